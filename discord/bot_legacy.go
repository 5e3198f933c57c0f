package discord

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// migrate-legacy and resume: the commands that pick up work left elsewhere, the v3.1
// archives of the channel, and interrupted uploads and the failed ones of a mount's queue.

// noLegacyPassphrase says how the host gives the bot the v3.1 passphrase; the passphrase
// never travels through Discord.
const noLegacyPassphrase = "🔑 Importing v3.1 archives needs their passphrase (v3.1's `USER_KEY`), and this bot was started without it. " +
	"On the bot's host, start it with `USER_KEY` set in its environment or with `--legacy-passphrase-file FILE` " +
	"(`discofs bot …` or `discofs mount --bot …`), then run `migrate-legacy` again. Please never post the passphrase in Discord."

func confirmMigrateLegacy(c *call) (string, error) {
	if c.b.cfg.LegacyPassphrase == "" {
		return "", notice(noLegacyPassphrase)
	}
	return fmt.Sprintf("Import the v3.1 archives posted in <#%s> into this vault? Each one is indexed read-only with its chunks left where they are; "+
		"archives already imported are skipped. The vault's index grows by their trees.", c.b.cfg.ChannelID), nil
}

// cmdMigrateLegacy does what `discofs import-legacy` does for the vault's channel, through
// the bot's own session.
func cmdMigrateLegacy(c *call) (answer, error) {
	pass := c.b.cfg.LegacyPassphrase
	if pass == "" {
		return answer{text: noLegacyPassphrase}, nil
	}
	var found, done atomic.Int64
	var current atomic.Value
	current.Store("")
	stop := c.b.progress(c.r, func() string {
		n := found.Load()
		if n == 0 {
			return fmt.Sprintf("📜 Reading the v3.1 cards and threads of <#%s>…", c.b.cfg.ChannelID)
		}
		return fmt.Sprintf("📜 Importing v3.1 archives: %d of %d done%s", done.Load(), n, current.Load().(string))
	})
	imps, problems := ScanLegacy(c.ctx, c.b.s, c.b.cfg.API, c.b.cfg.ChannelID)
	found.Store(int64(len(imps)))
	var imported, skipped, notes []string
	for _, imp := range imps {
		if err := c.ctx.Err(); err != nil {
			stop()
			return answer{}, err
		}
		current.Store(", now " + imp.Label())
		a, err := c.b.v.ImportLegacy(c.ctx, imp, pass)
		done.Add(1)
		switch {
		case errors.Is(err, vault.ErrLegacyImported):
			skipped = append(skipped, fmt.Sprintf("%s %s", vault.FormatID(a.ID), clip(a.Name, 60)))
		case err != nil:
			problems = append(problems, err)
		default:
			imported = append(imported, fmt.Sprintf("%s %s · %d files · %s", vault.FormatID(a.ID), clip(a.Name, 60), a.Files, vault.HumanBytes(a.Size)))
			for _, note := range imp.Notes {
				notes = append(notes, imp.Label()+": "+oneLine(note))
			}
		}
	}
	stop()
	if len(imps) == 0 && len(problems) == 0 {
		return answer{text: fmt.Sprintf("📜 <#%s> holds no v3.1 archives to import.", c.b.cfg.ChannelID)}, nil
	}
	var sb strings.Builder
	icon := "✅"
	if len(problems) > 0 {
		icon = "⚠️"
	}
	fmt.Fprintf(&sb, "%s v3.1 import: %d imported, %d already imported, %d failed.", icon, len(imported), len(skipped), len(problems))
	for _, l := range []struct {
		head string
		list []string
	}{{"Imported (read-only; `migrate` re-archives one in the discofs format)", imported}, {"Notes", notes}, {"Already imported", skipped}} {
		if len(l.list) > 0 {
			fmt.Fprintf(&sb, "\n%s:\n```\n%s\n```", l.head, strings.Join(l.list, "\n"))
		}
	}
	if len(problems) > 0 {
		sb.WriteString("\nFailed:\n```\n")
		for _, p := range problems {
			sb.WriteString(oneLine(p.Error()) + "\n")
		}
		sb.WriteString("```")
	}
	return fit(sb.String(), "migrate-legacy.txt"), nil
}

// cmdResume resumes the uploads that were cut off before their commit (an `upload` or a
// `discofs put` whose process was killed or whose store failed), each run again from its
// source folder into the same archive, and, beside a mount, makes the failed uploads of
// the mount's writeback queue due now. With an archive, only that archive's.
func cmdResume(c *call) (answer, error) {
	ref := c.str("archive")
	var todo []vault.Interrupted
	var findErr error
	if ref == "" {
		list, err := c.b.v.Interrupted()
		if err != nil {
			return answer{}, err
		}
		todo = list
	} else if it, err := c.b.v.FindInterrupted(ref); err == nil {
		todo = []vault.Interrupted{it}
	} else {
		findErr = err
	}
	var sb strings.Builder
	if c.b.cfg.Retry != nil {
		id, what := "", "the writeback queue"
		if ref != "" {
			a, err := c.b.v.Resolve(ref)
			if err != nil && len(todo) == 0 {
				return answer{}, err
			}
			id, what = a.ID, vault.FormatID(a.ID)
		}
		if ref == "" || id != "" {
			// The queue's status is not shown: the re-queued files still read as failed
			// until the worker takes them, a moment later; `status` shows the queue.
			if n := c.b.cfg.Retry(id); n > 0 {
				fmt.Fprintf(&sb, "🔁 Re-queued %d file(s) of %s whose upload failed; they upload now (`status` shows the queue).\n", n, what)
			} else {
				fmt.Fprintf(&sb, "👌 No failed upload is waiting in %s.\n", what)
			}
		}
	} else if findErr != nil {
		return answer{}, findErr
	}
	if len(todo) == 0 {
		if ref == "" {
			sb.WriteString("👌 No interrupted upload to resume.")
		}
		return fit(strings.TrimSpace(sb.String()), "resume.txt"), nil
	}
	failed := 0
	for _, it := range todo {
		what := vault.FormatID(it.Archive.ID) + " `" + clip(it.Archive.Name, 60) + "`"
		a, stored, err := c.hostUpload("🔁 Resuming", what, it.Archive.Name, func(prog *vault.Progress) (index.Archive, error) {
			return c.b.v.Resume(c.ctx, it, prog)
		})
		if err != nil {
			if c.ctx.Err() != nil {
				return answer{}, err
			}
			failed++
			fmt.Fprintf(&sb, "❌ %s: %s\n", what, oneLine(err.Error()))
			continue
		}
		fmt.Fprintf(&sb, "✅ Resumed %s from `%s`: %d files, %s, %s newly stored.\n", what,
			clip(strings.Join(it.Paths, "`, `"), 200), a.Files, vault.HumanBytes(a.Size), vault.HumanBytes(stored))
	}
	if failed > 0 {
		sb.WriteString("An upload that cannot go on is abandoned by `gc`.")
	}
	return fit(strings.TrimSpace(sb.String()), "resume.txt"), nil
}
