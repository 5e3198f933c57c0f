package discord

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// call is one command invocation, from a slash command, a prefix command or a button.
type call struct {
	b    *Bot
	ctx  context.Context
	cmd  *botCommand
	user string // ID
	name string // user name, for the log
	via  string // "slash", "prefix"; "+button" once confirmed
	args map[string]string
	r    reply
}

func (c *call) str(name string) string { return c.args[name] }

// num is an integer option; def when absent or not a number.
func (c *call) num(name string, def int) int {
	n, err := strconv.Atoi(c.args[name])
	if err != nil {
		return def
	}
	return n
}

// flag is a boolean option; a prefix command may also name it ("!verify ID full").
func (c *call) flag(name string) bool {
	switch strings.ToLower(c.args[name]) {
	case "true", "yes", "1", name:
		return true
	}
	return false
}

// waitReady holds an event until Run has registered the commands, so handlers never see a
// half-set-up bot; false when the bot stopped first.
func (b *Bot) waitReady() bool {
	select {
	case <-b.ready:
		return true
	case <-b.ctx.Done():
		return false
	}
}

func (b *Bot) onInteraction(_ *discordgo.Session, ic *discordgo.InteractionCreate) {
	i := ic.Interaction
	if !b.waitReady() {
		return
	}
	userID, userName := "", ""
	var member *discordgo.Member
	var perms int64
	switch {
	case i.Member != nil && i.Member.User != nil:
		member, perms = i.Member, i.Member.Permissions
		userID, userName = i.Member.User.ID, i.Member.User.Username
	case i.User != nil:
		userID, userName = i.User.ID, i.User.Username
	}
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		r := &slashReply{b: b, i: i}
		data := i.ApplicationCommandData()
		cmd := lookupCommand(data.Name)
		if i.GuildID != b.guildID || cmd == nil || !b.allowed(userID, member, perms) {
			b.logCommand(userID, userName, data.Name, "slash", nil, "refused", nil, 0)
			b.say(r, answer{text: b.refusal(), private: true})
			return
		}
		args := map[string]string{}
		for _, o := range data.Options {
			args[o.Name] = optionString(o)
		}
		b.start(&call{b: b, ctx: b.ctx, cmd: cmd, user: userID, name: userName, via: "slash", args: args, r: r})
	case discordgo.InteractionMessageComponent:
		b.onButton(i, userID, userName)
	}
}

func optionString(o *discordgo.ApplicationCommandInteractionDataOption) string {
	switch o.Type {
	case discordgo.ApplicationCommandOptionInteger:
		return strconv.FormatInt(o.IntValue(), 10)
	case discordgo.ApplicationCommandOptionBoolean:
		return strconv.FormatBool(o.BoolValue())
	}
	return fmt.Sprint(o.Value)
}

func (b *Bot) onMessage(_ *discordgo.Session, m *discordgo.MessageCreate) {
	if !b.prefixOn || m.Author == nil || m.Author.Bot || m.WebhookID != "" || !strings.HasPrefix(m.Content, b.cfg.Prefix) {
		return
	}
	if !b.waitReady() || m.GuildID != b.guildID || (b.cfg.ChannelID != "" && m.ChannelID != b.cfg.ChannelID) {
		return
	}
	line := strings.TrimPrefix(m.Content, b.cfg.Prefix)
	name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	cmd := lookupCommand(strings.ToLower(name))
	if cmd == nil {
		return // another bot's command, or a typo: staying quiet beats answering every "!"
	}
	r := &prefixReply{b: b, channelID: m.ChannelID, to: m.ID}
	if !b.allowed(m.Author.ID, m.Member, 0) {
		b.logCommand(m.Author.ID, m.Author.Username, cmd.name, "prefix", nil, "refused", nil, 0)
		b.say(r, answer{text: b.refusal()})
		return
	}
	args := parsePrefix(cmd, rest)
	b.start(&call{b: b, ctx: b.ctx, cmd: cmd, user: m.Author.ID, name: m.Author.Username, via: "prefix", args: args, r: r})
}

// parsePrefix maps a prefix command's words onto its options: "name:value" sets an option
// by name; a trailing number or flag name fills the number and flag options after the last
// text option ("!archives summer photos 2", "!verify ID full"); the other words fill the
// options in order, the last text option taking the rest of the line, so paths and
// queries may hold spaces.
func parsePrefix(cmd *botCommand, rest string) map[string]string {
	args := map[string]string{}
	var words []string
	for _, w := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(w, ":"); ok && cmd.option(k) != nil && v != "" {
			args[k] = v
			continue
		}
		words = append(words, w)
	}
	var free []*discordgo.ApplicationCommandOption
	for _, o := range cmd.options {
		if _, set := args[o.Name]; !set {
			free = append(free, o)
		}
	}
	for len(free) > 0 && len(words) > 0 {
		o, w := free[len(free)-1], words[len(words)-1]
		if o.Type == discordgo.ApplicationCommandOptionString || !fitsType(o, w) {
			break
		}
		args[o.Name], free, words = w, free[:len(free)-1], words[:len(words)-1]
	}
	lastText := -1
	for i, o := range free {
		if o.Type == discordgo.ApplicationCommandOptionString {
			lastText = i
		}
	}
	for i, o := range free {
		if len(words) == 0 {
			break
		}
		if i == lastText {
			args[o.Name] = strings.Join(words, " ")
			break
		}
		args[o.Name], words = words[0], words[1:]
	}
	return args
}

// fitsType says whether a prefix command's word can be the value of a number or flag option.
func fitsType(o *discordgo.ApplicationCommandOption, w string) bool {
	switch o.Type {
	case discordgo.ApplicationCommandOptionInteger:
		_, err := strconv.Atoi(w)
		return err == nil
	case discordgo.ApplicationCommandOptionBoolean:
		switch strings.ToLower(w) {
		case o.Name, "true", "false", "yes", "no":
			return true
		}
	}
	return false
}

// start checks the arguments and runs the command, or asks for confirmation first.
func (b *Bot) start(c *call) {
	for _, o := range c.cmd.options {
		if o.Required && c.args[o.Name] == "" {
			b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, "usage", nil, 0)
			b.say(c.r, answer{text: "Usage: `" + c.cmd.usage(b.cfg.Prefix) + "`", private: true})
			return
		}
	}
	if c.cmd.confirm != nil {
		b.askConfirmation(c)
		return
	}
	b.spawn(func() { b.execute(c) })
}

// execute runs a command and puts its result or error in the reply. A panic in a handler
// becomes an error: the bot may share its process with a mount.
func (b *Bot) execute(c *call) {
	start := time.Now()
	var a answer
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("bot: command panicked", "command", c.cmd.name, "panic", p, "stack", string(debug.Stack()))
				err = fmt.Errorf("internal error (%v)", p)
			}
		}()
		if c.cmd.long {
			if err = c.r.working(); err != nil {
				return
			}
		}
		a, err = c.cmd.run(c)
	}()
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if c.ctx.Err() != nil {
			outcome = "interrupted"
		}
		a = answer{text: "❌ " + c.cmd.name + " failed: " + oneLine(err.Error())}
	}
	b.say(c.r, a)
	b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, outcome, err, time.Since(start))
}

// say updates a reply, logging what Discord refused; nobody else would see it.
func (b *Bot) say(r reply, a answer) {
	if err := r.update(a); err != nil {
		b.log.Warn("bot: cannot answer", "err", err)
	}
}

// logCommand records who ran what and how it ended. Arguments are archive references,
// paths, queries and numbers: never a secret.
func (b *Bot) logCommand(userID, userName, cmd, via string, args map[string]string, outcome string, err error, took time.Duration) {
	attrs := []any{"user_id", userID, "user", userName, "command", cmd, "via", via, "outcome", outcome}
	if len(args) > 0 {
		attrs = append(attrs, "args", args)
	}
	if took > 0 {
		attrs = append(attrs, "took", took.Round(time.Millisecond))
	}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	b.log.Info("bot: command", attrs...)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
