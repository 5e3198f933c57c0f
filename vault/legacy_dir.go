package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/discofs/discofs/index"
)

// legacyManifestName matches v3.1's {N}-manifest_{HHMMSS}_{DDMMYY}.json, with the _1, _2
// suffix it adds on a clash.
var legacyManifestName = regexp.MustCompile(`^(?:\d+-)?manifest_(\d{6})_(\d{6})(?:_\d+)?\.json$`)

// IsLegacyManifestName reports whether name is how v3.1 named its manifests.
func IsLegacyManifestName(name string) bool { return legacyManifestName.MatchString(name) }

// LegacyManifestLess orders manifests by when v3.1 wrote them (the time in their names),
// then by name, in a thread as in a folder.
func LegacyManifestLess(a, b string) bool {
	ta, _ := LegacyManifestTime(a)
	tb, _ := LegacyManifestTime(b)
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a < b
}

// LegacyManifestTime is when v3.1 wrote a manifest, read from its name in local time; ok is
// false for a name that does not carry it.
func LegacyManifestTime(name string) (t time.Time, ok bool) {
	sm := legacyManifestName.FindStringSubmatch(name)
	if sm == nil {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("150405020106", sm[1]+sm[2], time.Local)
	return t, err == nil
}

// ScanLegacyDir finds the v3.1 archives in a folder the v3.1 slicer wrote: one per
// manifest, its chunks the folder's other files. Sliced folders were never uploaded, so
// they have no archive ID; ImportLegacy gives each the vault's next lot. A .bin file no
// manifest lists is a note on the first import (CheckLegacySource).
func ScanLegacyDir(dir string) ([]*LegacyImport, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(abs)
	if err != nil {
		return nil, err
	}
	parts := map[string]index.LegacyPart{}
	var manifests []os.DirEntry
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if IsLegacyManifestName(e.Name()) {
			manifests = append(manifests, e)
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		parts[e.Name()] = index.LegacyPart{Name: e.Name(), Size: info.Size()}
	}
	if len(manifests) == 0 {
		return nil, fmt.Errorf("%s holds no v3.1 manifest (N-manifest_HHMMSS_DDMMYY.json)", dir)
	}
	sort.Slice(manifests, func(i, j int) bool { return LegacyManifestLess(manifests[i].Name(), manifests[j].Name()) })
	var out []*LegacyImport
	for _, e := range manifests {
		b, err := os.ReadFile(filepath.Join(abs, e.Name()))
		if err != nil {
			return nil, err
		}
		created, ok := LegacyManifestTime(e.Name())
		if !ok {
			if info, err := e.Info(); err == nil {
				created = info.ModTime()
			}
		}
		out = append(out, &LegacyImport{Created: created, ManifestName: e.Name(), Manifest: b, Parts: parts,
			Source: index.LegacySource{Kind: index.LegacyDir, Dir: abs}})
	}
	return out, CheckLegacySource(out, nil)
}
