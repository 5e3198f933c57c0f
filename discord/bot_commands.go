package discord

import (
	"fmt"
	"sort"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/index"
	"github.com/discofs/discofs/vault"
)

// botCommand is one command, the same for its slash and its prefix form.
type botCommand struct {
	name    string
	help    string
	options []*discordgo.ApplicationCommandOption
	// long commands acknowledge at once and report progress.
	long bool
	// confirm, when set, makes the command destructive: it returns what the command would
	// do, shown with a Confirm button, or an error when it cannot run at all.
	confirm func(c *call) (string, error)
	run     func(c *call) (answer, error)
}

func (bc *botCommand) option(name string) *discordgo.ApplicationCommandOption {
	for _, o := range bc.options {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// usage is the prefix form: "!verify archive [full]".
func (bc *botCommand) usage(prefix string) string {
	s := prefix + bc.name
	for _, o := range bc.options {
		if o.Required {
			s += " " + o.Name
		} else {
			s += " [" + o.Name + "]"
		}
	}
	return s
}

func strOpt(name, desc string, required bool) *discordgo.ApplicationCommandOption {
	return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionString, Name: name, Description: desc, Required: required}
}

func intOpt(name, desc string) *discordgo.ApplicationCommandOption {
	one := 1.0
	return &discordgo.ApplicationCommandOption{Type: discordgo.ApplicationCommandOptionInteger, Name: name, Description: desc, MinValue: &one}
}

var archiveOpt = strOpt("archive", "archive ID (#DDMMYY-NN) or name", true)

// commandList is every command, in the order help shows them. It is filled in init because
// help refers to it.
var commandList []*botCommand

func init() {
	commandList = []*botCommand{
		{name: "status", help: "vault totals, the last archive and the bot's connection", run: cmdStatus},
		{name: "archives", help: "list archives, optionally matching a query (paged)",
			options: []*discordgo.ApplicationCommandOption{strOpt("query", "text in the ID, name or status", false), intOpt("page", "page number")},
			run:     cmdArchives},
		{name: "history", help: "the newest archives", options: []*discordgo.ApplicationCommandOption{intOpt("n", "how many (default 10)")}, run: cmdHistory},
		{name: "info", help: "an archive's card and a summary of its tree", options: []*discordgo.ApplicationCommandOption{archiveOpt}, run: cmdInfo},
		{name: "verify", help: "check an archive's packs; full also downloads and authenticates every chunk", long: true,
			options: []*discordgo.ApplicationCommandOption{archiveOpt,
				{Type: discordgo.ApplicationCommandOptionBoolean, Name: "full", Description: "download and authenticate every chunk"}},
			run: cmdVerify},
		{name: "download", help: "restore an archive (or a path in it) into the bot host's download folder", long: true,
			options: []*discordgo.ApplicationCommandOption{archiveOpt, strOpt("path", "file or folder inside the archive", false)},
			run:     cmdDownload},
		{name: "upload", help: "archive a folder on the bot's host", long: true,
			options: []*discordgo.ApplicationCommandOption{strOpt("path", "absolute path of a folder or file on the bot's host", true)},
			run:     cmdUpload},
		{name: "cleanup", help: "delete an archive, then collect the packs nothing else uses", long: true,
			options: []*discordgo.ApplicationCommandOption{archiveOpt}, confirm: confirmCleanup, run: cmdCleanup},
		{name: "rebuild-index", help: "rebuild the local index from the store alone", long: true, confirm: confirmRebuild, run: cmdRebuild},
		{name: "gc", help: "delete packs and manifests no archive uses", long: true, confirm: confirmGC, run: cmdGC},
		{name: "resume", help: "resume interrupted uploads, and retry the failed ones of the mount beside the bot", long: true,
			options: []*discordgo.ApplicationCommandOption{strOpt("archive", "archive ID or name (default: all)", false)},
			run:     cmdResume},
		{name: "migrate-legacy", help: "import the v3.1 archives of the vault's channel, read-only", long: true, confirm: confirmMigrateLegacy, run: cmdMigrateLegacy},
		{name: "help", help: "this list", run: cmdHelp},
	}
}

func lookupCommand(name string) *botCommand {
	for _, c := range commandList {
		if c.name == name {
			return c
		}
	}
	return nil
}

// slashCommands is what the bot registers for its guild.
func slashCommands() []*discordgo.ApplicationCommand {
	out := make([]*discordgo.ApplicationCommand, 0, len(commandList))
	for _, c := range commandList {
		desc := c.help
		if len(desc) > 100 {
			desc = desc[:97] + "…"
		}
		out = append(out, &discordgo.ApplicationCommand{Name: c.name, Description: desc, Options: c.options})
	}
	return out
}

func cmdHelp(c *call) (answer, error) {
	var sb strings.Builder
	sb.WriteString("**discofs bot** manages this vault. Slash commands:\n")
	for _, bc := range commandList {
		u := strings.TrimPrefix(bc.usage("/"), "/")
		fmt.Fprintf(&sb, "`/%s` %s", u, bc.help)
		if bc.confirm != nil {
			sb.WriteString(" (asks for confirmation)")
		}
		sb.WriteByte('\n')
	}
	if c.b.prefixOn {
		fmt.Fprintf(&sb, "The same commands work as `%shelp`, `%sverify #DDMMYY-NN full`, …", c.b.cfg.Prefix, c.b.cfg.Prefix)
	} else {
		sb.WriteString("Prefix commands are off: the bot lacks the MESSAGE_CONTENT intent.")
	}
	return fit(sb.String(), "help.txt"), nil
}

func cmdStatus(c *call) (answer, error) {
	s, err := c.b.v.Status()
	if err != nil {
		return answer{}, err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "📊 **Vault** `%s` on `%s`\n", s.VaultID, s.Store)
	fmt.Fprintf(&sb, "Archives: %d · files: %d · size: %s\n", s.Archives, s.Files, vault.HumanBytes(s.Size))
	fmt.Fprintf(&sb, "Packs: %d · stored: %s\n", s.Packs, vault.HumanBytes(s.Stored))
	if s.Last != nil {
		fmt.Fprintf(&sb, "Last archive: %s\n", archiveLine(*s.Last))
	} else {
		sb.WriteString("Last archive: none yet\n")
	}
	if c.b.cfg.Queue != nil {
		sb.WriteString(queueLines(c.b.cfg.Queue()))
	}
	hits, misses := c.b.v.ReadCacheStats()
	fmt.Fprintf(&sb, "Read cache: %d hits, %d misses\n", hits, misses)
	if c.b.cfg.Health != nil {
		sb.WriteString(c.b.cfg.Health() + "\n")
	}
	// discordgo's HeartbeatLatency reads without its lock; the bot counts events instead.
	fmt.Fprintf(&sb, "Discord gateway: connected %d time(s), resumed %d time(s)", c.b.connects.Load(), c.b.resumes.Load())
	return answer{text: sb.String()}, nil
}

// queueLines describe a mount's writeback queue for status, ending in a newline.
func queueLines(q vault.WritebackStatus) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Writeback queue: %d files (%s), %d uploading, %d failed", q.Files, vault.HumanBytes(q.Bytes), q.Uploading, q.Failed)
	if len(q.Dirty) > 0 {
		fmt.Fprintf(&sb, " · %d archives with changes to commit", len(q.Dirty))
	}
	fmt.Fprintf(&sb, "\nUploaded since %s: %d files (%s), %d commits\n",
		q.Started.Local().Format("2006-01-02 15:04"), q.UploadedFiles, vault.HumanBytes(q.UploadedBytes), q.Commits)
	if n := len(q.Errors); n > 0 {
		fmt.Fprintf(&sb, "Last queue error: %s\n", clip(oneLine(q.Errors[n-1]), 300))
	}
	return sb.String()
}

// archiveLine is one archive in a list.
func archiveLine(a index.Archive) string {
	return fmt.Sprintf("%s %s · %s · %d files · %s · %s", vault.FormatID(a.ID), clip(a.Name, 40),
		vault.HumanBytes(a.Size), a.Files, a.Status, a.Created.Local().Format("2006-01-02 15:04"))
}

// archivesPage is how many archives one page of `archives` shows.
const archivesPage = 15

func cmdArchives(c *call) (answer, error) {
	list, err := c.b.v.Archives()
	if err != nil {
		return answer{}, err
	}
	q := strings.ToLower(c.str("query"))
	var hits []index.Archive
	for _, a := range list {
		if q == "" || strings.Contains(strings.ToLower(vault.FormatID(a.ID)+" "+a.Name+" "+string(a.Status)), q) {
			hits = append(hits, a)
		}
	}
	if len(hits) == 0 {
		if q != "" {
			return answer{text: "No archive matches `" + clip(c.str("query"), 100) + "`."}, nil
		}
		return answer{text: "The vault has no archives yet."}, nil
	}
	pages := (len(hits) + archivesPage - 1) / archivesPage
	page := min(max(c.num("page", 1), 1), pages)
	var sb strings.Builder
	fmt.Fprintf(&sb, "📦 **%d archives**", len(hits))
	if q != "" {
		fmt.Fprintf(&sb, " matching `%s`", clip(c.str("query"), 100))
	}
	fmt.Fprintf(&sb, " (page %d of %d)\n", page, pages)
	for _, a := range hits[(page-1)*archivesPage : min(page*archivesPage, len(hits))] {
		sb.WriteString(archiveLine(a) + "\n")
	}
	if page < pages {
		fmt.Fprintf(&sb, "Next: `/archives page:%d`", page+1)
		if q != "" {
			fmt.Fprintf(&sb, " with the same query")
		}
	}
	return fit(sb.String(), "archives.txt"), nil
}

func cmdHistory(c *call) (answer, error) {
	list, err := c.b.v.Archives()
	if err != nil {
		return answer{}, err
	}
	n := min(max(c.num("n", 10), 1), 1000)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Created.After(list[j].Created) })
	list = list[:min(n, len(list))]
	if len(list) == 0 {
		return answer{text: "The vault has no archives yet."}, nil
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "🕘 **The %d newest archives**\n", len(list))
	for _, a := range list {
		sb.WriteString(archiveLine(a) + "\n")
	}
	return fit(sb.String(), "history.txt"), nil
}

func cmdInfo(c *call) (answer, error) {
	a, err := c.b.v.Resolve(c.str("archive"))
	if err != nil {
		return answer{}, err
	}
	var dirs, files, links int
	var top []index.Node
	var biggest []index.Node
	err = c.b.v.Index().Walk(a.ID, func(n index.Node) error {
		switch n.Type {
		case index.TypeDir:
			dirs++
		case index.TypeFile:
			files++
			biggest = append(biggest, n)
		case index.TypeSymlink:
			links++
		}
		if n.Path != "/" && strings.Count(n.Path, "/") == 1 {
			top = append(top, n)
		}
		return nil
	})
	if err != nil {
		return answer{}, err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "📦 **Archive %s** %s\n", vault.FormatID(a.ID), clip(a.Name, 80))
	fmt.Fprintf(&sb, "Status: %s · lot %d · created %s\n", a.Status, a.Lot, a.Created.Local().Format("2006-01-02 15:04:05"))
	fmt.Fprintf(&sb, "Files: %d · size: %s · stored: %s · chunks: %d\n", a.Files, vault.HumanBytes(a.Size), vault.HumanBytes(a.Stored), a.Chunks)
	fmt.Fprintf(&sb, "Generation %d · manifest in %d object(s)", a.Generation, len(a.Manifest))
	if a.Legacy {
		sb.WriteString(" · v3.1 archive (read-only)")
	}
	fmt.Fprintf(&sb, "\nTree: %d folders, %d files, %d symlinks\n", max(dirs-1, 0), files, links)
	if len(top) > 0 {
		sb.WriteString("```\n")
		for i, n := range top {
			if i == 15 {
				fmt.Fprintf(&sb, "… and %d more\n", len(top)-i)
				break
			}
			fmt.Fprintf(&sb, "%-4s %10s  %s\n", n.Type, sizeOf(n), clip(n.Path[1:], 60))
		}
		sb.WriteString("```")
	}
	sort.Slice(biggest, func(i, j int) bool { return biggest[i].Size > biggest[j].Size })
	if len(biggest) > 1 {
		sb.WriteString("Largest files:")
		for _, n := range biggest[:min(5, len(biggest))] {
			fmt.Fprintf(&sb, "\n• `%s` %s", clip(n.Path, 80), vault.HumanBytes(n.Size))
		}
	}
	ans := fit(sb.String(), "info.txt")
	if !a.Legacy { // a v3.1 archive's card is v3.1's own, in the channel
		card, err := c.b.v.Card(&a)
		if err != nil {
			return answer{}, err
		}
		ans.embeds = []*discordgo.MessageEmbed{cardEmbed(card, "")}
	}
	return ans, nil
}

func sizeOf(n index.Node) string {
	if n.Type != index.TypeFile {
		return "-"
	}
	return vault.HumanBytes(n.Size)
}

// clip shortens s to at most n characters; names come from users and may be long.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
