package vault

import (
	"fmt"

	"github.com/discofs/discofs/index"
)

// Status sums up a vault.
type Status struct {
	VaultID  string         `json:"vault_id"`
	Store    string         `json:"store"`
	Archives int            `json:"archives"`
	Files    int64          `json:"files"`
	Size     int64          `json:"size_bytes"`   // plaintext bytes of all archives' files
	Packs    int            `json:"packs"`        // data packs in the store
	Stored   int64          `json:"stored_bytes"` // bytes of those packs
	Last     *index.Archive `json:"last_archive,omitempty"`
}

// Status reads the vault's totals from the index alone.
func (v *Vault) Status() (*Status, error) {
	s := &Status{VaultID: v.cfg.VaultID, Store: v.cfg.Store}
	list, err := v.Archives()
	if err != nil {
		return nil, err
	}
	for i, a := range list {
		s.Archives++
		s.Files += a.Files
		s.Size += a.Size
		if s.Last == nil || a.Lot > s.Last.Lot {
			s.Last = &list[i]
		}
	}
	err = v.idx.Packs(func(p index.Pack) error {
		s.Packs++
		s.Stored += p.Size
		return nil
	})
	return s, err
}

// HumanBytes renders a byte count for people: "512 B", "1.5 MiB".
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
