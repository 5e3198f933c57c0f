package emulator

import (
	"bytes"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

var statusCommand = &discordgo.ApplicationCommand{
	Name: "status", Description: "Show an archive",
	Options: []*discordgo.ApplicationCommandOption{{Type: discordgo.ApplicationCommandOptionString, Name: "archive", Description: "archive ID"}},
}

func TestCommandsAndInteractions(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, func(c *Config) { c.InteractionAckTimeout = 300 * time.Millisecond })
	info := srv.Info()
	sess, _, _ := openBot(t, srv, discordgo.IntentsGuilds)

	cmds, err := sess.ApplicationCommandBulkOverwrite(info.ApplicationID, "", []*discordgo.ApplicationCommand{statusCommand,
		{Name: "upload", Description: "Upload"}})
	if err != nil || len(cmds) != 2 {
		t.Fatalf("overwrite: %v %d", err, len(cmds))
	}
	again, err := sess.ApplicationCommandBulkOverwrite(info.ApplicationID, "", []*discordgo.ApplicationCommand{statusCommand})
	if err != nil || len(again) != 1 || again[0].ID != cmds[0].ID {
		t.Fatalf("second overwrite keeps IDs: %v %+v", err, again)
	}
	list, err := sess.ApplicationCommands(info.ApplicationID, "")
	if err != nil || len(list) != 1 || list[0].Name != "status" {
		t.Fatalf("list: %v %+v", err, list)
	}
	_, err = sess.ApplicationCommandBulkOverwrite(info.ApplicationID, "", []*discordgo.ApplicationCommand{{Name: "Bad Name", Description: "x"}})
	wantAPIError(t, err, 400, CodeInvalidFormBody)

	seen := make(chan *discordgo.InteractionCreate, 4)
	sess.AddHandler(func(s *discordgo.Session, i *discordgo.InteractionCreate) {
		seen <- i
		data := i.ApplicationCommandData()
		arg := data.Options[0].StringValue()
		if arg == "slow" {
			time.Sleep(500 * time.Millisecond) // past the 300 ms deadline
		}
		err := s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredChannelMessageWithSource})
		if arg == "slow" {
			seen <- &discordgo.InteractionCreate{Interaction: &discordgo.Interaction{ID: errText(err)}}
			return
		}
		if err != nil {
			t.Error(err)
			return
		}
		err = s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: "twice"}})
		seen <- &discordgo.InteractionCreate{Interaction: &discordgo.Interaction{ID: errText(err)}}
		if _, err := s.InteractionResponseEdit(i.Interaction, &discordgo.WebhookEdit{Content: ptr("working…")}); err != nil {
			t.Error(err)
		}
		if _, err := s.InteractionResponseEdit(i.Interaction, &discordgo.WebhookEdit{Content: ptr("📦 " + arg + ": success")}); err != nil {
			t.Error(err)
		}
		if _, err := s.FollowupMessageCreate(i.Interaction, true, &discordgo.WebhookParams{Content: "details", Flags: discordgo.MessageFlagsEphemeral}); err != nil {
			t.Error(err)
		}
	})

	var final discordgo.Message
	code := control(t, srv, "POST", "/_emulator/interactions", map[string]any{
		"user_id": info.OwnerID, "command": "status", "options": map[string]any{"archive": "#170126-01"}, "settle_ms": 200,
	}, &final)
	if code != 200 {
		t.Fatalf("interaction: %d %+v", code, final)
	}
	got := waitFor(t, seen, "INTERACTION_CREATE")
	if got.Member == nil || got.Member.User.ID != info.OwnerID || got.ApplicationCommandData().Name != "status" {
		t.Fatalf("interaction %+v", got.Interaction)
	}
	if twice := waitFor(t, seen, "second callback"); !bytes.Contains([]byte(twice.ID), []byte("40060")) {
		t.Fatalf("second callback: %s", twice.ID)
	}
	// The final answer is the newest response: the ephemeral follow-up.
	if final.Content != "details" || final.Flags&discordgo.MessageFlagsEphemeral == 0 {
		t.Fatalf("final %q flags %d", final.Content, final.Flags)
	}
	// The original response in the channel was filled in.
	msgs, _ := sess.ChannelMessages(info.ChannelID, 5, "", "", "")
	if len(msgs) != 1 || msgs[0].Content != "📦 #170126-01: success" || msgs[0].Type != discordgo.MessageTypeChatInputCommand {
		t.Fatalf("channel %+v", msgs)
	}

	code = control(t, srv, "POST", "/_emulator/interactions", map[string]any{
		"command": "status", "options": map[string]any{"archive": "slow"}, "timeout_ms": 1000,
	}, &map[string]any{})
	if code != 504 {
		t.Fatalf("unanswered interaction: %d", code)
	}
	waitFor(t, seen, "slow INTERACTION_CREATE")
	if late := waitFor(t, seen, "late callback"); !bytes.Contains([]byte(late.ID), []byte("10062")) {
		t.Fatalf("late callback: %s", late.ID)
	}
	if code := control(t, srv, "POST", "/_emulator/interactions", map[string]any{"command": "nope"}, &map[string]any{}); code != 404 {
		t.Fatalf("unknown command: %d", code)
	}
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestWebhooks(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	wh, err := sess.WebhookCreate(ch, "lane-1", "")
	if err != nil || wh.Token == "" {
		t.Fatalf("create: %v %+v", err, wh)
	}
	card, _ := sess.ChannelMessageSend(ch, "card")
	th, err := sess.MessageThreadStartComplex(ch, card.ID, &discordgo.ThreadStart{Name: "chunks"})
	if err != nil {
		t.Fatal(err)
	}
	data := pattern(4096, 5)
	m, err := sess.WebhookThreadExecute(wh.ID, wh.Token, true, th.ID, &discordgo.WebhookParams{
		Content: "pack", Files: []*discordgo.File{{Name: "p.bin", Reader: bytes.NewReader(data)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.ChannelID != th.ID || m.WebhookID != wh.ID || len(m.Attachments) != 1 || m.Attachments[0].Size != 4096 {
		t.Fatalf("webhook message %+v", m)
	}
	if status, body, _ := fetch(t, sess, m.Attachments[0].URL, ""); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("download: %d", status)
	}
	if _, err := sess.WebhookMessageEdit(wh.ID, wh.Token, m.ID, &discordgo.WebhookEdit{Content: ptr("edited")}); err == nil {
		t.Fatal("edit without thread_id found a message that is in a thread")
	}
	nowait, err := sess.WebhookExecute(wh.ID, wh.Token, false, &discordgo.WebhookParams{Content: "fire and forget"})
	if err != nil || nowait != nil {
		t.Fatalf("wait=false: %v %+v", err, nowait)
	}
	_, err = sess.WebhookExecute(wh.ID, "wrong", true, &discordgo.WebhookParams{Content: "x"})
	wantAPIError(t, err, 401, codeInvalidWebhookToken)
	_, err = sess.WebhookThreadExecute(wh.ID, wh.Token, true, "1", &discordgo.WebhookParams{Content: "x"})
	wantAPIError(t, err, 404, CodeUnknownChannel)
	if n := srv.State("").Totals.Messages; n != 3 {
		t.Fatalf("%d messages", n)
	}
}

func TestInteractionResponseWithFile(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, nil)
	sess, _, _ := openBot(t, srv, discordgo.IntentsGuilds)
	if _, err := sess.ApplicationCommandCreate(srv.Info().ApplicationID, srv.Info().GuildID, &discordgo.ApplicationCommand{Name: "download", Description: "Get a file"}); err != nil {
		t.Fatal(err)
	}
	data := pattern(2048, 4)
	sess.AddHandler(func(s *discordgo.Session, i *discordgo.InteractionCreate) {
		err := s.InteractionRespond(i.Interaction, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
			Data: &discordgo.InteractionResponseData{Content: "here", Files: []*discordgo.File{{Name: "f.bin", Reader: bytes.NewReader(data)}}}})
		if err != nil {
			t.Error(err)
		}
	})
	var final discordgo.Message
	if code := control(t, srv, "POST", "/_emulator/interactions", map[string]any{"command": "download", "settle_ms": 50}, &final); code != 200 {
		t.Fatalf("interaction: %d", code)
	}
	if final.Content != "here" || len(final.Attachments) != 1 {
		t.Fatalf("final %+v", final)
	}
	if status, body, _ := fetch(t, sess, final.Attachments[0].URL, ""); status != 200 || !bytes.Equal(body, data) {
		t.Fatalf("download %d", status)
	}
}
