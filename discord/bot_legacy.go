package discord

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/discofs/discofs/vault"
)

// migrate-legacy and resume: the commands that pick up work left elsewhere, the v3.1
// archives of the channel and the failed uploads of a mount's queue.

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
	var imported, skipped []string
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
	}{{"Imported (read-only; `migrate` re-archives one in the discofs format)", imported}, {"Already imported", skipped}} {
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

// cmdResume retries the failed uploads of the writeback queue of the mount the bot runs
// beside. A bot on its own has no queue: its uploads run to the end or fail, and the queue
// a mount leaves behind is drained by `discofs sync` or the next mount.
func cmdResume(c *call) (answer, error) {
	if c.b.cfg.Retry == nil {
		return answer{text: "📭 Nothing is queued on this host: this bot runs without a mount, so there are no uploads to resume. " +
			"An `upload` that failed can simply be run again (nothing is stored twice); files a mount left queued upload with `discofs sync` or the next `discofs mount`."}, nil
	}
	id, what := "", "the writeback queue"
	if ref := c.str("archive"); ref != "" {
		a, err := c.b.v.Resolve(ref)
		if err != nil {
			return answer{}, err
		}
		id, what = a.ID, vault.FormatID(a.ID)
	}
	// The queue's status is not shown: the re-queued files still read as failed until the
	// worker takes them, a moment later; `status` shows the queue.
	if n := c.b.cfg.Retry(id); n > 0 {
		return answer{text: fmt.Sprintf("🔁 Re-queued %d file(s) of %s whose upload failed; they upload now (`status` shows the queue).", n, what)}, nil
	}
	return answer{text: fmt.Sprintf("👌 No failed upload is waiting in %s; nothing to retry.", what)}, nil
}
