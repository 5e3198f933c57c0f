package discord

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/bwmarrin/discordgo"
)

// notice is what a confirm func returns when the command cannot run on this host for a
// reason the user is not at fault for (a setting the host lacks): it is shown as it is,
// not as a failure.
type notice string

func (n notice) Error() string { return string(n) }

// confirmation is a destructive command waiting for its user's click.
type confirmation struct {
	c     *call
	timer *time.Timer
}

// Button custom IDs are "discofs:confirm:TOKEN" and "discofs:cancel:TOKEN"; the token is
// random, so a button of an earlier run of the bot matches nothing.
const buttonPrefix = "discofs:"

// askConfirmation shows what a destructive command would do, with Confirm and Cancel
// buttons; nothing happens until the user who asked clicks Confirm.
func (b *Bot) askConfirmation(c *call) {
	prompt, err := c.cmd.confirm(c)
	var n notice
	if errors.As(err, &n) {
		b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, "not run", nil, 0)
		b.say(c.r, answer{text: string(n)})
		return
	}
	if err != nil {
		b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, "error", err, 0)
		b.say(c.r, answer{text: "❌ " + oneLine(err.Error())})
		return
	}
	tok := make([]byte, 12)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	p := &confirmation{c: c}
	b.mu.Lock()
	b.pending[token] = p
	// The timer is set under mu so that a click, which takes mu, always finds it.
	p.timer = time.AfterFunc(b.cfg.ConfirmTimeout, func() {
		if b.take(token, "") != nil {
			b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, "expired", nil, 0)
			b.say(c.r, answer{text: "⌛ Not confirmed within " + b.cfg.ConfirmTimeout.String() + "; nothing was changed."})
		}
	})
	b.mu.Unlock()
	buttons := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "Confirm", Style: discordgo.DangerButton, CustomID: buttonPrefix + "confirm:" + token},
		discordgo.Button{Label: "Cancel", Style: discordgo.SecondaryButton, CustomID: buttonPrefix + "cancel:" + token},
	}}}
	text := "⚠️ " + prompt + "\nPress **Confirm** within " + b.cfg.ConfirmTimeout.String() + " to go ahead."
	if err := c.r.update(answer{text: text, buttons: buttons}); err != nil {
		b.take(token, "")
		b.log.Warn("bot: cannot ask for confirmation", "err", err)
		return
	}
	b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, "awaiting confirmation", nil, 0)
}

// take removes and returns a waiting confirmation; with user set, only when that user
// asked for it.
func (b *Bot) take(token, user string) *confirmation {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending[token]
	if p == nil || (user != "" && p.c.user != user) {
		return nil
	}
	delete(b.pending, token)
	p.timer.Stop()
	return p
}

// waiting reports whether token is a confirmation still waiting, and whose it is.
func (b *Bot) waiting(token string) (user string, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.pending[token]; p != nil {
		return p.c.user, true
	}
	return "", false
}

// onButton handles a click on Confirm or Cancel. The click is acknowledged as a deferred
// update and the command's own reply is edited from then on, so a slash command and a
// prefix command end the same way.
func (b *Bot) onButton(i *discordgo.Interaction, userID, userName string) {
	id := i.MessageComponentData().CustomID
	action, token, ok := strings.Cut(strings.TrimPrefix(id, buttonPrefix), ":")
	if !strings.HasPrefix(id, buttonPrefix) || !ok {
		return
	}
	private := func(text string) {
		err := b.ack(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: text, Flags: discordgo.MessageFlagsEphemeral}})
		if err != nil {
			b.log.Warn("bot: cannot answer a click", "err", err)
		}
	}
	owner, waiting := b.waiting(token)
	switch {
	case !waiting:
		private("This confirmation is no longer waiting; run the command again.")
		return
	case owner != userID:
		b.logCommand(userID, userName, "button", "button", nil, "refused", nil, 0)
		private("🔒 Only the person who ran this command can confirm it.")
		return
	}
	p := b.take(token, userID)
	if p == nil {
		private("This confirmation is no longer waiting; run the command again.")
		return
	}
	if err := b.ack(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}); err != nil {
		b.log.Warn("bot: cannot acknowledge a click", "err", err)
	}
	c := *p.c // a copy: the asking goroutine may still read the original
	c.via += "+button"
	if action != "confirm" {
		b.logCommand(c.user, c.name, c.cmd.name, c.via, c.args, "cancelled", nil, 0)
		b.say(c.r, answer{text: "Cancelled; nothing was changed."})
		return
	}
	b.spawn(func() { b.execute(&c) })
}
