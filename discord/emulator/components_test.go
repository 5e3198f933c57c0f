package emulator

import (
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// confirmRow is an action row of a Confirm and a Cancel button, as the bot sends them.
func confirmRow(prefix string) []discordgo.MessageComponent {
	return []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "Confirm", Style: discordgo.DangerButton, CustomID: prefix + "confirm"},
		discordgo.Button{Label: "Cancel", Style: discordgo.SecondaryButton, CustomID: prefix + "cancel"},
	}}}
}

// buttons flattens a message's action rows into its buttons.
func buttons(t *testing.T, cs []discordgo.MessageComponent) []*discordgo.Button {
	t.Helper()
	var out []*discordgo.Button
	for _, c := range cs {
		row, ok := c.(*discordgo.ActionsRow)
		if !ok {
			t.Fatalf("top-level component %T, want an action row", c)
		}
		for _, b := range row.Components {
			btn, ok := b.(*discordgo.Button)
			if !ok {
				t.Fatalf("component %T in a row, want a button", b)
			}
			out = append(out, btn)
		}
	}
	return out
}

func TestComponentsStored(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID

	m, err := sess.ChannelMessageSendComplex(ch, &discordgo.MessageSend{Content: "sure?", Components: confirmRow("x:")})
	if err != nil {
		t.Fatal(err)
	}
	bs := buttons(t, m.Components)
	if len(bs) != 2 || bs[0].CustomID != "x:confirm" || bs[0].Style != discordgo.DangerButton || bs[1].Label != "Cancel" {
		t.Fatalf("sent: %+v", bs)
	}
	if row := m.Components[0].(*discordgo.ActionsRow); row.ID != 1 || bs[0].ID != 2 || bs[1].ID != 3 {
		t.Errorf("component ids %d %d %d, want 1 2 3", row.ID, bs[0].ID, bs[1].ID)
	}
	got, err := sess.ChannelMessage(ch, m.ID)
	if err != nil || len(buttons(t, got.Components)) != 2 {
		t.Fatalf("fetched: %v %+v", err, got)
	}

	// An edit without components keeps them; one with components replaces them.
	got, err = sess.ChannelMessageEdit(ch, m.ID, "still sure?")
	if err != nil || len(got.Components) != 1 {
		t.Fatalf("edit keeps: %v %+v", err, got)
	}
	disabled := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
		discordgo.Button{Label: "Done", Style: discordgo.SuccessButton, CustomID: "x:done", Disabled: true},
	}}}
	got, err = sess.ChannelMessageEditComplex(&discordgo.MessageEdit{Channel: ch, ID: m.ID, Components: &disabled})
	if bs := buttons(t, got.Components); err != nil || len(bs) != 1 || !bs[0].Disabled {
		t.Fatalf("edit replaces: %v %+v", err, got)
	}
	got, err = sess.ChannelMessageEditComplex(&discordgo.MessageEdit{Channel: ch, ID: m.ID, Components: &[]discordgo.MessageComponent{}})
	if err != nil || len(got.Components) != 0 || got.Content != "still sure?" {
		t.Fatalf("edit clears: %v %+v", err, got)
	}

	// A message may be only buttons.
	if _, err := sess.ChannelMessageSendComplex(ch, &discordgo.MessageSend{Components: confirmRow("y:")}); err != nil {
		t.Errorf("buttons only: %v", err)
	}

	// Webhook messages keep them too.
	wh, err := sess.WebhookCreate(ch, "lane", "")
	if err != nil {
		t.Fatal(err)
	}
	wm, err := sess.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{Content: "hook", Components: confirmRow("w:")})
	if err != nil || len(buttons(t, wm.Components)) != 2 {
		t.Fatalf("webhook: %v %+v", err, wm)
	}
	wm, err = sess.WebhookMessageEdit(wh.ID, wh.Token, wm.ID, &discordgo.WebhookEdit{Components: &[]discordgo.MessageComponent{}})
	if err != nil || len(wm.Components) != 0 {
		t.Fatalf("webhook edit: %v %+v", err, wm)
	}

	var sixRows []discordgo.MessageComponent
	for i := range 6 {
		sixRows = append(sixRows, confirmRow(strings.Repeat("r", i+1))[0])
	}
	for name, cs := range map[string][]discordgo.MessageComponent{
		"duplicate custom_id": {discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "a", CustomID: "same"}, discordgo.Button{Label: "b", CustomID: "same"}}}},
		"no custom_id":  {discordgo.ActionsRow{Components: []discordgo.MessageComponent{discordgo.Button{Label: "a"}}}},
		"a bare button": {discordgo.Button{Label: "a", CustomID: "a"}},
		"six rows":      sixRows,
	} {
		_, err := sess.ChannelMessageSendComplex(ch, &discordgo.MessageSend{Content: name, Components: cs})
		wantAPIError(t, err, 400, CodeInvalidFormBody)
	}
}

// clickBot opens a bot session whose handler answers each click as its custom_id says.
func clickBot(t *testing.T, srv *Server) (*discordgo.Session, chan *discordgo.Interaction) {
	t.Helper()
	sess, _, _ := openBot(t, srv, discordgo.IntentsGuilds)
	seen := make(chan *discordgo.Interaction, 8)
	sess.AddHandler(func(s *discordgo.Session, ic *discordgo.InteractionCreate) {
		i := ic.Interaction
		seen <- i
		if i.Type != discordgo.InteractionMessageComponent {
			return
		}
		var err error
		switch id := i.MessageComponentData().CustomID; {
		case strings.HasSuffix(id, "update"):
			err = s.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseUpdateMessage,
				Data: &discordgo.InteractionResponseData{Content: "updated by " + i.Member.User.ID, Components: []discordgo.MessageComponent{}}})
		case strings.HasSuffix(id, "defer"):
			err = s.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate})
			if err == nil {
				time.Sleep(100 * time.Millisecond)
				_, err = s.ChannelMessageEditComplex(&discordgo.MessageEdit{Channel: i.ChannelID, ID: i.Message.ID,
					Content: ptr("step 1"), Components: &[]discordgo.MessageComponent{}})
			}
			if err == nil {
				time.Sleep(100 * time.Millisecond)
				// @original of a deferred update is the clicked message.
				_, err = s.InteractionResponseEdit(i, &discordgo.WebhookEdit{Content: ptr("done")})
			}
		case strings.HasSuffix(id, "reply"):
			err = s.InteractionRespond(i, &discordgo.InteractionResponse{Type: discordgo.InteractionResponseChannelMessageWithSource,
				Data: &discordgo.InteractionResponseData{Content: "only you", Flags: discordgo.MessageFlagsEphemeral,
					Components: confirmRow("eph:")}})
		}
		if err != nil {
			t.Error(err)
		}
	})
	return sess, seen
}

func TestComponentClicks(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, nil)
	info := srv.Info()
	sess, seen := clickBot(t, srv)
	send := func(prefix string) *discordgo.Message {
		t.Helper()
		row := []discordgo.MessageComponent{discordgo.ActionsRow{Components: []discordgo.MessageComponent{
			discordgo.Button{Label: "Update", CustomID: prefix + "update"},
			discordgo.Button{Label: "Defer", CustomID: prefix + "defer"},
			discordgo.Button{Label: "Reply", CustomID: prefix + "reply"},
			discordgo.Button{Label: "Nothing", CustomID: prefix + "silent"},
			discordgo.Button{Label: "Off", CustomID: prefix + "off", Disabled: true},
		}}}
		m, err := sess.ChannelMessageSendComplex(info.ChannelID, &discordgo.MessageSend{Content: "choose", Components: row})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	click := func(m *discordgo.Message, user, customID string, timeoutMS int) (int, discordgo.Message) {
		t.Helper()
		var out discordgo.Message
		code := control(t, srv, "POST", "/_emulator/components", map[string]any{
			"user_id": user, "message_id": m.ID, "custom_id": customID, "settle_ms": 150, "timeout_ms": timeoutMS,
		}, &out)
		return code, out
	}

	// 7: the clicked message is edited at once.
	m := send("a:")
	code, out := click(m, info.OwnerID, "a:update", 0)
	if code != 200 || out.ID != m.ID || out.Content != "updated by "+info.OwnerID || len(out.Components) != 0 {
		t.Fatalf("update: %d %+v", code, out)
	}
	i := waitFor(t, seen, "INTERACTION_CREATE")
	if i.Type != discordgo.InteractionMessageComponent || i.Message == nil || i.Message.ID != m.ID ||
		i.Member == nil || i.Member.User.ID != info.OwnerID || i.ChannelID != info.ChannelID {
		t.Fatalf("interaction %+v", i)
	}
	if d := i.MessageComponentData(); d.CustomID != "a:update" || d.ComponentType != discordgo.ButtonComponent {
		t.Fatalf("data %+v", d)
	}
	if len(buttons(t, i.Message.Components)) != 5 {
		t.Errorf("the interaction's message lacks its buttons: %+v", i.Message.Components)
	}
	if got, _ := sess.ChannelMessage(info.ChannelID, m.ID); got.Content != "updated by "+info.OwnerID {
		t.Errorf("channel copy: %q", got.Content)
	}

	// 6: nothing visible at first; the answer follows the message through later edits,
	// by REST and through the click's own token.
	m = send("b:")
	code, out = click(m, info.MemberID, "b:defer", 0)
	waitFor(t, seen, "INTERACTION_CREATE")
	if code != 200 || out.ID != m.ID || out.Content != "done" || len(out.Components) != 0 {
		t.Fatalf("deferred update: %d %+v", code, out)
	}

	// 4: a new message, ephemeral here, replying to the clicked one; its own buttons can
	// be clicked too.
	m = send("c:")
	code, out = click(m, info.MemberID, "c:reply", 0)
	waitFor(t, seen, "INTERACTION_CREATE")
	if code != 200 || out.ID == m.ID || out.Content != "only you" || out.Flags&discordgo.MessageFlagsEphemeral == 0 ||
		out.Type != discordgo.MessageTypeReply || out.MessageReference == nil || out.MessageReference.MessageID != m.ID ||
		out.InteractionMetadata == nil || out.InteractionMetadata.Type != discordgo.InteractionMessageComponent {
		t.Fatalf("reply: %d %+v", code, out)
	}
	code, out2 := click(&out, info.MemberID, "eph:confirm", 400)
	waitFor(t, seen, "INTERACTION_CREATE on an ephemeral message")
	if code != 504 {
		t.Fatalf("unanswered click on an ephemeral message: %d %+v", code, out2)
	}

	// No answer: 504.
	if code, _ := click(m, info.MemberID, "c:silent", 400); code != 504 {
		t.Fatalf("silent: %d", code)
	}
	waitFor(t, seen, "INTERACTION_CREATE")

	// Refusals: a disabled or unknown button, a user's message, an unknown message or user.
	user := discordgo.Message{}
	control(t, srv, "POST", "/_emulator/messages", map[string]any{"content": "hi"}, &user)
	for name, req := range map[string]map[string]any{
		"disabled":        {"message_id": m.ID, "custom_id": "c:off"},
		"unknown button":  {"message_id": m.ID, "custom_id": "nope"},
		"user's message":  {"message_id": user.ID, "custom_id": "x"},
		"unknown user":    {"message_id": m.ID, "custom_id": "c:update", "user_id": "1"},
		"unknown message": {"message_id": "1", "custom_id": "c:update"},
	} {
		want := 400
		if name == "unknown message" {
			want = 404
		}
		if code := control(t, srv, "POST", "/_emulator/components", req, &map[string]any{}); code != want {
			t.Errorf("%s: HTTP %d, want %d", name, code, want)
		}
	}
	select {
	case i := <-seen:
		t.Errorf("a refused click was dispatched: %+v", i)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestComponentCallbackDeadline checks that a click, like a command, must be answered
// within the acknowledgement deadline, and only once.
func TestComponentCallbackDeadline(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, func(c *Config) { c.InteractionAckTimeout = 200 * time.Millisecond })
	info := srv.Info()
	sess, _, _ := openBot(t, srv, discordgo.IntentsGuilds)
	errs := make(chan error, 4)
	sess.AddHandler(func(s *discordgo.Session, ic *discordgo.InteractionCreate) {
		update := &discordgo.InteractionResponse{Type: discordgo.InteractionResponseDeferredMessageUpdate}
		if ic.MessageComponentData().CustomID == "late:confirm" {
			time.Sleep(300 * time.Millisecond)
			errs <- s.InteractionRespond(ic.Interaction, update)
			return
		}
		errs <- s.InteractionRespond(ic.Interaction, update)
		errs <- s.InteractionRespond(ic.Interaction, update)
	})
	for _, prefix := range []string{"late:", "twice:"} {
		m, err := sess.ChannelMessageSendComplex(info.ChannelID, &discordgo.MessageSend{Content: prefix, Components: confirmRow(prefix)})
		if err != nil {
			t.Fatal(err)
		}
		control(t, srv, "POST", "/_emulator/components", map[string]any{"message_id": m.ID, "custom_id": prefix + "confirm",
			"settle_ms": 50, "timeout_ms": 500}, &map[string]any{})
	}
	wantAPIError(t, waitFor(t, errs, "late callback"), 404, CodeUnknownInteraction)
	if err := waitFor(t, errs, "first callback"); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, waitFor(t, errs, "second callback"), 400, CodeAlreadyAcknowledged)
}
