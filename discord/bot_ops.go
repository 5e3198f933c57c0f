package discord

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// The long commands: each acknowledges at once (execute calls working), shows progress
// while it runs and ends with its result.

func cmdVerify(c *call) (answer, error) {
	a, err := c.b.v.Resolve(c.str("archive"))
	if err != nil {
		return answer{}, err
	}
	full := c.flag("full")
	kind := "packs"
	if full {
		kind = "every chunk"
	}
	var prog vault.Progress
	stop := c.b.progress(c.r, func() string {
		s := fmt.Sprintf("🔍 Verifying %s (%s)…", vault.FormatID(a.ID), kind)
		if full {
			s += fmt.Sprintf(" %d chunks checked", prog.Files.Load())
		}
		return s
	})
	rep, err := c.b.v.Verify(c.ctx, a.ID, full, &prog)
	stop()
	if err != nil {
		return answer{}, err
	}
	if len(rep.Damaged) == 0 {
		s := fmt.Sprintf("✅ %s is intact: %d packs (%s) present", vault.FormatID(a.ID), rep.Packs, vault.HumanBytes(rep.Bytes))
		if full {
			s += fmt.Sprintf(", %d chunks authenticated", rep.Chunks)
		}
		return answer{text: s + "."}, nil
	}
	return damagedAnswer(fmt.Sprintf("⚠️ %s has %d damaged file(s):", vault.FormatID(a.ID), len(rep.Damaged)), rep.Damaged, "verify-"+a.ID+".txt"), nil
}

func damagedAnswer(head string, ds []vault.Damaged, name string) answer {
	var sb strings.Builder
	sb.WriteString(head + "\n```\n")
	for _, d := range ds {
		sb.WriteString(d.Path + ": " + oneLine(d.Err.Error()) + "\n")
	}
	sb.WriteString("```")
	return fit(sb.String(), name)
}

// transferText renders the progress of a download or upload.
func transferText(verb, what string, p *vault.Progress) string {
	done, total := p.Bytes.Load(), p.Total.Load()
	s := fmt.Sprintf("%s %s: %s", verb, what, vault.HumanBytes(done))
	if total > 0 {
		s += fmt.Sprintf(" of %s (%d%%)", vault.HumanBytes(total), done*100/total)
	}
	s += fmt.Sprintf(", %d files", p.Files.Load())
	if st := p.Stored.Load(); st > 0 {
		s += ", " + vault.HumanBytes(st) + " stored"
	}
	return s
}

func cmdDownload(c *call) (answer, error) {
	if c.b.cfg.DownloadDir == "" {
		return answer{text: "📥 Downloads are off: start the bot with a download folder (`discofs bot --download-dir DIR`)."}, nil
	}
	a, err := c.b.v.Resolve(c.str("archive"))
	if err != nil {
		return answer{}, err
	}
	inner := c.str("path")
	if strings.Contains("/"+inner+"/", "/../") {
		return answer{}, errors.New("the path must stay inside the archive")
	}
	dest, err := freshDir(c.b.cfg.DownloadDir, safeName(a.ID+" "+a.Name))
	if err != nil {
		return answer{}, err
	}
	var prog vault.Progress
	what := vault.FormatID(a.ID) + strings.TrimRight("/"+strings.Trim(inner, "/"), "/")
	stop := c.b.progress(c.r, func() string { return transferText("📥 Restoring", what, &prog) })
	damaged, err := c.b.v.Get(c.ctx, a.ID+"/"+strings.TrimPrefix(inner, "/"), dest, &prog)
	stop()
	if err != nil {
		return answer{}, err
	}
	done := fmt.Sprintf("✅ Restored %s into `%s` on the bot's host (%d files, %s).", what, dest, prog.Files.Load(), vault.HumanBytes(prog.Bytes.Load()))
	if len(damaged) > 0 {
		return damagedAnswer(done+fmt.Sprintf("\n⚠️ %d file(s) could not be read and were left out:", len(damaged)), damaged, "download-"+a.ID+".txt"), nil
	}
	return answer{text: done}, nil
}

// freshDir makes a new folder name (or "name-2", "name-3", …) in dir, so a download never
// mixes with an earlier one.
func freshDir(dir, name string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for i := 1; ; i++ {
		p := filepath.Join(dir, name)
		if i > 1 {
			p += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(p, 0o700)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
}

// safeName makes an archive's name usable as one folder name on any host.
func safeName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 32 || strings.ContainsRune(`/\:*?"<>|`, r) {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
	s = strings.Trim(s, ". ")
	if s == "" {
		return "archive"
	}
	return clip(s, 100)
}

func cmdUpload(c *call) (answer, error) {
	p := c.str("path")
	if !filepath.IsAbs(p) {
		return answer{}, fmt.Errorf("give an absolute path on the bot's host, not %q", p)
	}
	if _, err := os.Stat(p); err != nil {
		return answer{}, err
	}
	name := filepath.Base(p)
	a, stored, err := c.hostUpload("📤 Archiving", "`"+clip(name, 80)+"`", name, func(prog *vault.Progress) (index.Archive, error) {
		return c.b.v.Put(c.ctx, []string{p}, vault.PutOptions{Progress: prog})
	})
	if err != nil {
		return answer{}, err
	}
	return answer{text: fmt.Sprintf("✅ Archived `%s` as %s: %d files, %s, %s newly stored.",
		clip(name, 80), vault.FormatID(a.ID), a.Files, vault.HumanBytes(a.Size), vault.HumanBytes(stored))}, nil
}

// hostUpload runs an upload from the bot's host: the reply shows its progress, the host
// stays awake while it runs and a notification tells how it ended. what names it in the
// reply and name in the notification of a failure.
func (c *call) hostUpload(verb, what, name string, put func(*vault.Progress) (index.Archive, error)) (index.Archive, int64, error) {
	release := c.b.host.inhibit(c.b.cfg.InhibitSleep)
	defer release()
	var prog vault.Progress
	stop := c.b.progress(c.r, func() string { return transferText(verb, what, &prog) })
	a, err := put(&prog)
	stop()
	if err != nil {
		c.b.host.notify(c.b.cfg.Notify, "discofs: upload failed", name+": "+oneLine(err.Error()))
		return a, 0, err
	}
	c.b.host.notify(c.b.cfg.Notify, "discofs: archive finished", vault.FormatID(a.ID)+" "+a.Name)
	return a, prog.Stored.Load(), nil
}

func confirmCleanup(c *call) (string, error) {
	a, err := c.b.v.Resolve(c.str("archive"))
	if err != nil {
		return "", err
	}
	if a.Legacy {
		return fmt.Sprintf("Forget v3.1 archive %s **%s** (%d files, %s)? It leaves the index; its v3.1 card and chunks stay where v3.1 put them, and import-legacy finds it again.",
			vault.FormatID(a.ID), clip(a.Name, 80), a.Files, vault.HumanBytes(a.Size)), nil
	}
	return fmt.Sprintf("Delete archive %s **%s** (%d files, %s)? Its card is marked deleted and the packs nothing else uses are deleted from the store. This cannot be undone.",
		vault.FormatID(a.ID), clip(a.Name, 80), a.Files, vault.HumanBytes(a.Size)), nil
}

func cmdCleanup(c *call) (answer, error) {
	a, err := c.b.v.Remove(c.ctx, c.str("archive"))
	if err != nil {
		return answer{}, err
	}
	if a.Legacy {
		return answer{text: fmt.Sprintf("🗑️ Forgot v3.1 archive %s %s; its card and chunks stay where v3.1 put them.", vault.FormatID(a.ID), clip(a.Name, 80))}, nil
	}
	rep, err := c.b.v.GC(c.ctx)
	if err != nil {
		return answer{}, fmt.Errorf("%s is deleted, but the garbage collection after it failed (run gc again): %w", vault.FormatID(a.ID), err)
	}
	return answer{text: fmt.Sprintf("🗑️ Deleted %s %s. %s", vault.FormatID(a.ID), clip(a.Name, 80), gcText(rep))}, nil
}

func confirmGC(c *call) (string, error) {
	return "Collect garbage? Packs and manifests no archive uses are deleted from the store, and interrupted uploads are abandoned.", nil
}

func cmdGC(c *call) (answer, error) {
	rep, err := c.b.v.GC(c.ctx)
	if err != nil {
		return answer{}, err
	}
	return answer{text: "🧹 " + gcText(rep)}, nil
}

func gcText(r *vault.GCReport) string {
	s := fmt.Sprintf("Garbage collection freed %d pack(s) (%s), %d old manifest(s) and %d orphan(s); %d interrupted upload(s) abandoned.",
		r.Packs, vault.HumanBytes(r.Bytes), r.Manifests, r.Orphans, r.Abandoned)
	if r.OrphansSkipped {
		s += " Unknown objects were kept: the store holds archives this index does not know (rebuild-index first)."
	}
	return s
}

func confirmRebuild(c *call) (string, error) {
	return "Rebuild the local index from the store? The index is wiped and read back from the vault header, the cards and the manifests; commands wait until it is done.", nil
}

func cmdRebuild(c *call) (answer, error) {
	var prog vault.Progress
	stop := c.b.progress(c.r, func() string {
		return fmt.Sprintf("🔧 Rebuilding the index… %d files indexed", prog.Files.Load())
	})
	rep, err := c.b.v.Rebuild(c.ctx, &prog)
	stop()
	if err != nil {
		return answer{}, err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "✅ Index rebuilt: %d archives, %d files.", rep.Archives, rep.Files)
	for _, l := range []struct {
		head string
		list []string
	}{{"Skipped", rep.Skipped}, {"Failed", rep.Failed}} {
		if len(l.list) > 0 {
			fmt.Fprintf(&sb, "\n%s (%d):\n```\n%s\n```", l.head, len(l.list), strings.Join(l.list, "\n"))
		}
	}
	return fit(sb.String(), "rebuild.txt"), nil
}
