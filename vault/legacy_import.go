package vault

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/discofs/discofs/chunkstore"
	"github.com/discofs/discofs/index"
)

// LegacyImport is one v3.1 archive found in a folder or a channel, ready to be indexed.
type LegacyImport struct {
	// ID is the v3.1 archive ID without '#' ("170126-01"); empty for a sliced folder that was
	// never uploaded, which gets the vault's next lot on the day of Created.
	ID      string
	Lot     int
	Name    string // empty: the manifest's source_folder
	Created time.Time
	Status  index.Status // empty: success
	Source  index.LegacySource
	Card    string // the card's message ID, for a channel import

	ManifestName string
	Manifest     []byte
	// Parts are the stored chunks the source holds, by v3.1 chunk name; Size is what the
	// source says (the file or attachment size).
	Parts map[string]index.LegacyPart
	// Fetcher reads Parts during the import; nil reads folders only.
	Fetcher LegacyFetcher
	// Of names, for messages, the card an import without an ID was found under: the second
	// and later manifests of one v3.1 upload.
	Of string
	// Notes are one-line remarks on how the archive was found (a card read without its
	// lists, stray chunk files) for the importer to show; they do not stop the import.
	Notes []string
}

// Label names the import in messages: its archive ID, else its manifest.
func (imp *LegacyImport) Label() string {
	switch {
	case imp.ID != "":
		return "v3.1 archive " + FormatID(imp.ID)
	case imp.Of != "":
		return "v3.1 archive " + imp.ManifestName + " (uploaded as " + FormatID(imp.Of) + ")"
	}
	return "v3.1 archive " + imp.ManifestName
}

// Encrypted reports whether the archive's manifest says its chunks are encrypted, so that
// importing it needs the v3.1 passphrase. A manifest that cannot be read says no: its
// import fails with the reason.
func (imp *LegacyImport) Encrypted() bool {
	m, err := parseLegacyManifest(imp.Manifest)
	return err == nil && m.encrypted()
}

// LegacyCardCounts is what a v3.1 card says of its upload. v3.1's !upload posted every
// .bin file and every manifest of its upload folder: chunk_count counts them all (set
// before the upload), file_count the distinct original names the manifests list, and
// uploaded_files names each one posted.
type LegacyCardCounts struct {
	Status   index.Status
	Chunks   int      // chunk_count; -1: not on the card
	Files    int      // file_count; -1: not on the card
	Uploaded []string // uploaded_files; nil: not on the card, or cut
}

// CheckLegacySource checks the archives found in one source (a folder, or the thread of a
// card), whose manifests share the source's chunk files. A .bin file no manifest lists is a
// note on the first import, not an error: v3.1 posted every .bin of its folder, leftovers
// too, and reads never need it. A card whose counts disagree with the manifests and the
// thread is an error (the card or the thread is not what v3.1 uploaded): chunk_count below
// the chunks and manifests the thread's manifests make, and for an upload that succeeded,
// chunk_count above what the thread holds, a file_count other than the manifests' files,
// or uploaded_files missing one of them or naming a file the thread lacks. card is nil
// for a folder.
func CheckLegacySource(imps []*LegacyImport, card *LegacyCardCounts) error {
	if len(imps) == 0 {
		return nil
	}
	listed, names := map[string]bool{}, map[string]bool{}
	for _, imp := range imps {
		m, err := parseLegacyManifest(imp.Manifest)
		if err != nil {
			return nil // the import says why
		}
		for _, f := range m.Files {
			names[f.Name] = true
			for _, c := range f.Chunks {
				listed[c.Name] = true
			}
		}
	}
	var stray []string
	for name := range imps[0].Parts {
		if !listed[name] && strings.HasSuffix(name, ".bin") {
			stray = append(stray, name)
		}
	}
	sort.Strings(stray)
	if len(stray) > 0 {
		imps[0].Notes = append(imps[0].Notes, fmt.Sprintf("%d .bin %s that no manifest lists, left out: %s",
			len(stray), plural(len(stray), "file", "files"), someNames(stray)))
	}
	if card == nil {
		return nil
	}
	least := len(listed) + len(imps)
	switch {
	case card.Chunks >= 0 && card.Chunks < least:
		return fmt.Errorf("%w: its card counts %d files (chunk_count), fewer than the %d chunks and %d %s in its thread",
			ErrLegacyFormat, card.Chunks, len(listed), len(imps), plural(len(imps), "manifest", "manifests"))
	case card.Status != index.StatusSuccess:
		return nil // an upload that failed part way counted files it never posted
	case card.Chunks > least+len(stray):
		return fmt.Errorf("%w: its card counts %d files (chunk_count), its thread holds %d (%d chunks its manifests list, %d %s, %d other .bin)",
			ErrLegacyFormat, card.Chunks, least+len(stray), len(listed), len(imps), plural(len(imps), "manifest", "manifests"), len(stray))
	case card.Files >= 0 && card.Files != len(names):
		return fmt.Errorf("%w: its card counts %d files (file_count), its %s list %d",
			ErrLegacyFormat, card.Files, plural(len(imps), "manifest", "manifests"), len(names))
	}
	if card.Uploaded == nil {
		return nil
	}
	up := map[string]bool{}
	for _, n := range card.Uploaded {
		up[n] = true
	}
	var notOnCard, notInThread []string
	for _, imp := range imps {
		if !up[imp.ManifestName] {
			notOnCard = append(notOnCard, imp.ManifestName)
		}
	}
	for n := range listed {
		if !up[n] {
			notOnCard = append(notOnCard, n)
		}
	}
	for n := range up {
		if _, held := imps[0].Parts[n]; !held && !listed[n] && !IsLegacyManifestName(n) {
			notInThread = append(notInThread, n)
		}
	}
	sort.Strings(notOnCard)
	sort.Strings(notInThread)
	switch {
	case len(notOnCard) > 0:
		return fmt.Errorf("%w: its card's uploaded_files does not name %d of the files its thread's manifests list: %s",
			ErrLegacyFormat, len(notOnCard), someNames(notOnCard))
	case len(notInThread) > 0:
		return fmt.Errorf("%w: its card's uploaded_files names %d files neither its thread nor its manifests hold: %s",
			ErrLegacyFormat, len(notInThread), someNames(notInThread))
	}
	return nil
}

// someNames lists up to three names.
func someNames(names []string) string {
	if len(names) <= 3 {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:3], ", "), len(names)-3)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// ErrLegacyImported is returned by ImportLegacy for an archive already in the index.
var ErrLegacyImported = errors.New("already imported")

// ImportLegacy indexes a v3.1 archive read-only, its chunks left where they are. It checks
// that every chunk the manifest lists is in the source with the size the manifest gives,
// decrypts one chunk to check the passphrase and learn the chunk size, and writes the tree.
// Every error names the archive. Importing the same manifest again returns the archive
// with an error wrapping ErrLegacyImported.
func (v *Vault) ImportLegacy(ctx context.Context, imp *LegacyImport, passphrase string) (index.Archive, error) {
	a, err := v.importLegacy(ctx, imp, passphrase)
	if err != nil && !errors.Is(err, ErrLegacyImported) {
		return a, fmt.Errorf("%s: %w", imp.Label(), err)
	}
	return a, err
}

func (v *Vault) importLegacy(ctx context.Context, imp *LegacyImport, pass string) (index.Archive, error) {
	m, err := parseLegacyManifest(imp.Manifest)
	if err != nil {
		return index.Archive{}, fmt.Errorf("%s: %w", imp.ManifestName, err)
	}
	sum := sha256.Sum256(imp.Manifest)
	if a, err := v.findLegacy(sum); err != nil || a.ID != "" {
		if err == nil {
			err = fmt.Errorf("%s is %w as %s", imp.Label(), ErrLegacyImported, FormatID(a.ID))
		}
		return a, err
	}
	if m.encrypted() && pass == "" {
		return index.Archive{}, errors.New("no v3.1 passphrase: set USER_KEY or use --legacy-passphrase-file")
	}
	files := make([]legacyManifestFile, 0, len(m.Files))
	for _, f := range m.Files {
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	if err := checkLegacyParts(files, imp.Parts); err != nil {
		return index.Archive{}, err
	}
	la := index.LegacyArchive{Source: imp.Source, Passphrase: pass, ManifestName: imp.ManifestName,
		ManifestSum: sum, Encrypted: m.encrypted(), Gzip: m.gzip(), WholeFile: m.wholeFile(), Card: imp.Card}
	if la.ChunkSize, err = v.probeLegacy(ctx, imp, &la, files); err != nil {
		return index.Archive{}, err
	}

	a := index.Archive{ID: imp.ID, Lot: imp.Lot, Name: imp.Name, Created: imp.Created, Status: imp.Status, Legacy: true}
	if a.Name == "" {
		a.Name = m.SourceFolder
	}
	if a.Status == "" {
		a.Status = index.StatusSuccess
	}
	if a.ID == "" {
		if a.Lot, err = v.nextLot(); err != nil {
			return a, err
		}
		a.ID = NewArchiveID(a.Created, a.Lot)
	} else if old, err := v.idx.GetArchive(a.ID); err == nil {
		return a, fmt.Errorf("the vault already has an archive %s (%s)", FormatID(a.ID), old.Name)
	} else if !errors.Is(err, index.ErrNotFound) {
		return a, err
	}
	if a.Name == "" {
		a.Name = a.ID
	}
	la.ID = a.ID
	nodes, ids, recs, err := legacyTree(&a, &la, files, imp.Parts)
	if err != nil {
		return a, err
	}
	if err := v.idx.PutLegacy(la, ids, recs); err != nil {
		return a, err
	}
	if err := v.putNewTree(a.ID, nodes); err != nil {
		return a, err
	}
	return a, v.idx.PutArchive(a)
}

// findLegacy returns the archive imported from the manifest with this digest, if any.
func (v *Vault) findLegacy(sum [32]byte) (index.Archive, error) {
	var id string
	err := v.idx.LegacyArchives(func(la index.LegacyArchive) error {
		if la.ManifestSum == sum {
			id = la.ID
		}
		return nil
	})
	if err != nil || id == "" {
		return index.Archive{}, err
	}
	a, err := v.idx.GetArchive(id)
	if errors.Is(err, index.ErrNotFound) {
		return index.Archive{}, nil // a crash came before the archive record: import again
	}
	return a, err
}

// nextLot takes a lot number above every archive's, as newArchive does.
func (v *Vault) nextLot() (int, error) {
	floor := 0
	list, err := v.Archives()
	if err != nil {
		return 0, err
	}
	for _, a := range list {
		floor = max(floor, a.Lot)
	}
	return v.idx.NextLot(floor)
}

// checkLegacyParts says which chunks the manifest lists that the source lacks or holds
// with another size, all in one error.
func checkLegacyParts(files []legacyManifestFile, parts map[string]index.LegacyPart) error {
	var problems []string
	for _, f := range files {
		for _, c := range f.Chunks {
			p, ok := parts[c.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("chunk %s of %s is missing", c.Name, f.Name))
			case c.Size > 0 && p.Size > 0 && c.Size != p.Size:
				problems = append(problems, fmt.Sprintf("chunk %s of %s has %d bytes, the manifest says %d", c.Name, f.Name, p.Size, c.Size))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	if len(problems) > 5 {
		problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
	}
	return fmt.Errorf("%w: %s", ErrLegacyFormat, strings.Join(problems, "; "))
}

// probeLegacy decrypts one chunk, which checks the passphrase, and returns the chunk size:
// the plaintext length of the first chunk of a file that has more than one (0 when none
// has). A file sealed whole is opened entirely, the smallest one.
func (v *Vault) probeLegacy(ctx context.Context, imp *LegacyImport, la *index.LegacyArchive, files []legacyManifestFile) (int64, error) {
	partsOf := func(cs []legacyChunkEntry) []index.LegacyPart {
		out := make([]index.LegacyPart, len(cs))
		for i, c := range cs {
			out[i] = imp.Parts[c.Name]
		}
		return out
	}
	if la.WholeFile {
		var probe *legacyManifestFile
		for i := range files {
			if len(files[i].Chunks) > 0 && (probe == nil || files[i].Size < probe.Size) {
				probe = &files[i]
			}
		}
		if probe == nil {
			return 0, nil
		}
		_, err := v.openLegacyParts(ctx, imp.Fetcher, la, partsOf(probe.Chunks), probe.Size)
		return 0, err
	}
	var probe *legacyManifestFile
	for i := range files {
		if len(files[i].Chunks) > 1 || probe == nil && len(files[i].Chunks) == 1 {
			probe = &files[i]
			if len(files[i].Chunks) > 1 {
				break
			}
		}
	}
	if probe == nil {
		return 0, nil
	}
	want := int64(-1)
	if len(probe.Chunks) == 1 {
		want = probe.Size
	}
	plain, err := v.openLegacyParts(ctx, imp.Fetcher, la, partsOf(probe.Chunks[:1]), want)
	if err != nil || len(probe.Chunks) == 1 {
		return 0, err
	}
	if len(plain) == 0 || len(plain) > math.MaxUint32 {
		return 0, fmt.Errorf("%w: %s: first chunk holds %d bytes", ErrLegacyFormat, probe.Name, len(plain))
	}
	return int64(len(plain)), nil
}

// legacyTree builds the archive's nodes and chunk records and fills a's totals.
func legacyTree(a *index.Archive, la *index.LegacyArchive, files []legacyManifestFile, parts map[string]index.LegacyPart) ([]index.Node, []chunkstore.ID, []index.LegacyChunk, error) {
	mtime := a.Created.UnixNano()
	nodes := []index.Node{{Path: "/", Type: index.TypeDir, Mode: 0o755, Mtime: mtime}}
	seen := map[string]bool{"/": true}
	var ids []chunkstore.ID
	var recs []index.LegacyChunk
	for _, f := range files {
		p := cleanPath(f.Name)
		if p == "/" || seen[p] {
			return nil, nil, nil, fmt.Errorf("%w: file name %q is empty or repeated", ErrLegacyFormat, f.Name)
		}
		// v3.1 names may hold folders; each gets a directory node once.
		for d := path.Dir(p); d != "/" && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			nodes = append(nodes, index.Node{Path: d, Type: index.TypeDir, Mode: 0o755, Mtime: mtime})
		}
		seen[p] = true
		n := index.Node{Path: p, Type: index.TypeFile, Mode: 0o644, Size: f.Size, Mtime: mtime}
		fileParts := make([]index.LegacyPart, len(f.Chunks))
		for i, c := range f.Chunks {
			fileParts[i] = parts[c.Name]
			fileParts[i].Name = c.Name
			if fileParts[i].Size == 0 {
				fileParts[i].Size = c.Size
			}
			a.Stored += fileParts[i].Size
		}
		switch {
		case f.Size == 0:
			// Nothing to read: v3.1 still stored one chunk of b"", which reads need not fetch.
		case len(f.Chunks) == 0:
			return nil, nil, nil, fmt.Errorf("%w: %s has %d bytes and no chunks", ErrLegacyFormat, f.Name, f.Size)
		case la.WholeFile:
			if f.Size > math.MaxUint32 {
				return nil, nil, nil, fmt.Errorf("%s: files sealed whole are read up to 4 GiB", f.Name)
			}
			id := legacyChunkID(a.ID, f.Chunks[0].Name)
			ids = append(ids, id)
			recs = append(recs, index.LegacyChunk{Archive: a.ID, Parts: fileParts})
			n.Chunks = []index.ChunkRef{{ID: id, Len: uint32(f.Size)}}
		default:
			cs := la.ChunkSize
			if len(f.Chunks) == 1 {
				cs = f.Size
			}
			if cs <= 0 || int64(len(f.Chunks)-1)*cs >= f.Size || int64(len(f.Chunks))*cs < f.Size {
				return nil, nil, nil, fmt.Errorf("%w: %s: %d bytes do not fit %d chunks of %d bytes", ErrLegacyFormat, f.Name, f.Size, len(f.Chunks), la.ChunkSize)
			}
			for i, c := range f.Chunks {
				id := legacyChunkID(a.ID, c.Name)
				ids = append(ids, id)
				recs = append(recs, index.LegacyChunk{Archive: a.ID, Parts: fileParts[i : i+1]})
				n.Chunks = append(n.Chunks, index.ChunkRef{ID: id, Len: uint32(min(cs, f.Size-int64(i)*cs))})
			}
		}
		a.Files++
		a.Size += f.Size
		a.Chunks += int64(len(f.Chunks))
		nodes = append(nodes, n)
	}
	return nodes, ids, recs, nil
}
