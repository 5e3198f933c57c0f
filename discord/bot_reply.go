package discord

import (
	"context"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"
)

// maxContent is Discord's limit on a message's content, in characters.
const maxContent = 2000

// answer is one state of a command's reply.
type answer struct {
	text string
	// file, when set, is attached as name; it carries what does not fit in text.
	file, name string
	// buttons replaces the reply's buttons; nil keeps none.
	buttons []discordgo.MessageComponent
	// embeds replaces the reply's embeds; nil keeps none.
	embeds []*discordgo.MessageEmbed
	// private shows a slash reply to its user only (ignored for prefix commands, whose
	// reply is an ordinary message).
	private bool
}

// reply is how a command answers its user: the interaction's response for a slash command,
// a message answering the user's for a prefix command. Every call after the first edits
// the same reply, so progress and result replace each other.
type reply interface {
	// working acknowledges at once ("thinking…") so a long operation may take its time.
	working() error
	// update sets the reply's text, file and buttons.
	update(a answer) error
}

// slashReply answers an interaction.
type slashReply struct {
	b  *Bot
	i  *discordgo.Interaction
	mu sync.Mutex
	// acked: Discord has the first response; later answers edit it.
	acked bool
}

func (r *slashReply) working() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.acked {
		return nil
	}
	err := r.b.ack(r.i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource})
	r.acked = err == nil
	return err
}

func (r *slashReply) update(a answer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	files := a.files()
	buttons, embeds := a.parts()
	if !r.acked {
		data := &discordgo.InteractionResponseData{Content: a.text, Files: files, Components: buttons, Embeds: embeds}
		if a.private {
			data.Flags = discordgo.MessageFlagsEphemeral
		}
		err := r.b.ack(r.i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource, Data: data})
		r.acked = err == nil
		return err
	}
	edit := &discordgo.WebhookEdit{Content: &a.text, Components: &buttons, Embeds: &embeds, Files: files}
	if files == nil {
		edit.Attachments = &[]*discordgo.MessageAttachment{} // an old page's file goes
	}
	_, err := r.b.s.InteractionResponseEdit(r.i, edit)
	return err
}

// prefixReply answers a prefix command with a message replying to the user's.
type prefixReply struct {
	b         *Bot
	channelID string
	to        string // the user's message
	mu        sync.Mutex
	id        string // the reply, once sent
}

func (r *prefixReply) working() error {
	return r.update(answer{text: "⏳ Working on it…"})
}

func (r *prefixReply) update(a answer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	buttons, embeds := a.parts()
	if r.id == "" {
		m, err := r.b.s.ChannelMessageSendComplex(r.channelID, &discordgo.MessageSend{
			Content: a.text, Files: a.files(), Components: buttons, Embeds: embeds,
			Reference:       &discordgo.MessageReference{MessageID: r.to, ChannelID: r.channelID},
			AllowedMentions: &discordgo.MessageAllowedMentions{},
		})
		if err == nil {
			r.id = m.ID
		}
		return err
	}
	edit := discordgo.NewMessageEdit(r.channelID, r.id).SetContent(a.text)
	edit.Components = &buttons
	edit.Embeds = &embeds
	edit.Files = a.files()
	if edit.Files == nil {
		edit.Attachments = &[]*discordgo.MessageAttachment{}
	}
	_, err := r.b.s.ChannelMessageEditComplex(edit)
	return err
}

// parts are the answer's buttons and embeds, empty rather than nil: an edit sends them
// always, so those of an earlier state go.
func (a answer) parts() ([]discordgo.MessageComponent, []*discordgo.MessageEmbed) {
	buttons, embeds := a.buttons, a.embeds
	if buttons == nil {
		buttons = []discordgo.MessageComponent{}
	}
	if embeds == nil {
		embeds = []*discordgo.MessageEmbed{}
	}
	return buttons, embeds
}

func (a answer) files() []*discordgo.File {
	if a.file == "" {
		return nil
	}
	return []*discordgo.File{{Name: a.name, ContentType: "text/plain; charset=utf-8", Reader: strings.NewReader(a.file)}}
}

// fit makes an answer of text that may be longer than Discord allows: the head that fits,
// and the whole text attached as name.
func fit(text, name string) answer {
	if utf8.RuneCountInString(text) <= maxContent {
		return answer{text: text}
	}
	const note = "\n… (the full text is attached)"
	limit := maxContent - utf8.RuneCountInString(note) - 8 // room for a closing fence
	head, n := text, 0
	for i := range text {
		if n == limit {
			head = text[:i]
			break
		}
		n++
	}
	if cut := strings.LastIndexByte(head, '\n'); cut > 0 {
		head = head[:cut]
	}
	if strings.Count(head, "```")%2 == 1 {
		head += "\n```"
	}
	return answer{text: head + note, file: text, name: name}
}

// progress edits a reply with render's text at most every b.cfg.ProgressEvery, until the
// returned stop is called; stop waits for an edit in flight, so the result edit comes last.
func (b *Bot) progress(r reply, render func() string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A timer restarted after each edit, not a ticker: a slow edit must not be followed
		// at once by the tick that queued meanwhile.
		t := time.NewTimer(b.cfg.ProgressEvery)
		defer t.Stop()
		last := ""
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if s := render(); s != last {
				last = s
				if err := r.update(answer{text: s}); err != nil {
					b.log.Debug("bot: progress edit failed", "err", err)
				}
			}
			t.Reset(b.cfg.ProgressEvery)
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
