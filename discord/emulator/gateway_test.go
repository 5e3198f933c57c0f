package emulator

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// openBot opens the gateway with intents and forwards every MESSAGE_CREATE.
func openBot(t *testing.T, srv *Server, intents discordgo.Intent) (*discordgo.Session, chan *discordgo.MessageCreate, chan *discordgo.Ready) {
	t.Helper()
	sess, err := srv.Session()
	if err != nil {
		t.Fatal(err)
	}
	sess.Identify.Intents = intents
	msgs := make(chan *discordgo.MessageCreate, 100)
	ready := make(chan *discordgo.Ready, 10)
	sess.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { msgs <- m })
	sess.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) { ready <- r })
	if err := sess.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	return sess, msgs, ready
}

func waitFor[T any](t *testing.T, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5 s", what)
	}
	var zero T
	return zero
}

func TestGatewayReadyGuildAndDispatch(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, nil)
	info := srv.Info()
	guilds := make(chan *discordgo.GuildCreate, 1)
	sess, err := srv.Session()
	if err != nil {
		t.Fatal(err)
	}
	sess.AddHandler(func(_ *discordgo.Session, g *discordgo.GuildCreate) { guilds <- g })
	threads := make(chan *discordgo.ThreadCreate, 1)
	sess.AddHandler(func(_ *discordgo.Session, c *discordgo.ThreadCreate) { threads <- c })
	msgs := make(chan *discordgo.MessageCreate, 10)
	sess.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) { msgs <- m })
	updates := make(chan *discordgo.MessageUpdate, 10)
	sess.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageUpdate) { updates <- m })
	deletes := make(chan *discordgo.MessageDelete, 10)
	sess.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageDelete) { deletes <- m })
	if err := sess.Open(); err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if sess.State.User == nil || sess.State.User.ID != info.ApplicationID {
		t.Fatalf("READY user %+v", sess.State.User)
	}
	g := waitFor(t, guilds, "GUILD_CREATE")
	if g.ID != info.GuildID || len(g.Channels) != 1 || g.Channels[0].ID != info.ChannelID {
		t.Fatalf("guild %+v", g.Guild)
	}

	var posted discordgo.Message
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "!status"}, &posted)
	m := waitFor(t, msgs, "MESSAGE_CREATE")
	if m.ID != posted.ID || m.Content != "!status" || m.Author.ID != info.MemberID || m.GuildID != info.GuildID {
		t.Fatalf("dispatched %+v", m.Message)
	}
	mine, err := sess.ChannelMessageSend(info.ChannelID, "reply")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, msgs, "MESSAGE_CREATE of the bot's own message")
	if _, err := sess.ChannelMessageEdit(info.ChannelID, mine.ID, "edited"); err != nil {
		t.Fatal(err)
	}
	if u := waitFor(t, updates, "MESSAGE_UPDATE"); u.Content != "edited" {
		t.Fatalf("update %+v", u.Message)
	}
	if _, err := sess.MessageThreadStartComplex(info.ChannelID, mine.ID, &discordgo.ThreadStart{Name: "chunks"}); err != nil {
		t.Fatal(err)
	}
	if th := waitFor(t, threads, "THREAD_CREATE"); th.ID != mine.ID {
		t.Fatalf("thread %+v", th.Channel)
	}
	if err := sess.ChannelMessageDelete(info.ChannelID, posted.ID); err != nil {
		t.Fatal(err)
	}
	for {
		d := waitFor(t, deletes, "MESSAGE_DELETE")
		if d.ID == posted.ID {
			break
		}
	}
}

// postAsWebhook makes a webhook and posts through it a message with content,
// an attachment and an embed: someone else's message, as MESSAGE_CONTENT
// sees it.
func postAsWebhook(t *testing.T, sess *discordgo.Session, channelID string) *discordgo.Message {
	t.Helper()
	wh, err := sess.WebhookCreate(channelID, "uploader", "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := sess.WebhookExecute(wh.ID, wh.Token, true, &discordgo.WebhookParams{
		Content: "!download #170126-01",
		Embeds:  []*discordgo.MessageEmbed{{Title: "📦 Archive #170126-01"}},
		Files:   []*discordgo.File{{Name: "p.bin", Reader: bytes.NewReader(pattern(100, 1))}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Content == "" || len(m.Attachments) != 1 || len(m.Embeds) != 1 {
		t.Fatalf("the webhook's own answer is %+v", m)
	}
	return m
}

// wantHidden checks what a reader without MESSAGE_CONTENT sees of
// postAsWebhook's message (hidden) or a reader with it (everything).
func wantHidden(t *testing.T, how string, m *discordgo.Message, hidden bool) {
	t.Helper()
	if hidden && (m.Content != "" || len(m.Attachments) != 0 || len(m.Embeds) != 0) {
		t.Fatalf("%s without MESSAGE_CONTENT: content %q, %d attachments, %d embeds", how, m.Content, len(m.Attachments), len(m.Embeds))
	}
	if !hidden && (m.Content != "!download #170126-01" || len(m.Attachments) != 1 || len(m.Embeds) != 1 || m.Embeds[0].Title == "") {
		t.Fatalf("%s with MESSAGE_CONTENT: content %q, %d attachments, %d embeds", how, m.Content, len(m.Attachments), len(m.Embeds))
	}
}

func TestGatewayIntents(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, nil)
	info := srv.Info()
	_, plain, _ := openBot(t, srv, discordgo.IntentsGuilds|discordgo.IntentsGuildMessages)
	_, full, _ := openBot(t, srv, discordgo.IntentsGuilds|discordgo.IntentsGuildMessages|discordgo.IntentMessageContent)
	_, none, _ := openBot(t, srv, discordgo.IntentsGuilds)

	posted := postAsWebhook(t, sess, info.ChannelID)
	m := waitFor(t, plain, "MESSAGE_CREATE without MESSAGE_CONTENT")
	if m.ID != posted.ID {
		t.Fatalf("dispatched %s, want %s", m.ID, posted.ID)
	}
	wantHidden(t, "gateway", m.Message, true)
	wantHidden(t, "gateway", waitFor(t, full, "MESSAGE_CREATE with MESSAGE_CONTENT").Message, false)
	// REST follows the application's privileged-intent switch, not the
	// intents a gateway session asked for: this application has it.
	got, err := sess.ChannelMessage(info.ChannelID, posted.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantHidden(t, "REST", got, false)

	// A mention of the bot is visible without the intent.
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "<@" + info.ApplicationID + "> status"}, nil)
	if m := waitFor(t, plain, "mention"); m.Content == "" {
		t.Fatal("a mention of the bot was stripped")
	}
	// So are the bot's own messages, with their attachments.
	mine, err := sendFiles(sess, info.ChannelID, "own", map[string][]byte{"o.bin": pattern(10, 2)}, "o.bin")
	if err != nil {
		t.Fatal(err)
	}
	if m := waitFor(t, plain, "the bot's own message"); m.ID != mine.ID || m.Content != "own" || len(m.Attachments) != 1 {
		t.Fatalf("own message without the intent: %+v", m.Message)
	}
	select {
	case m := <-none:
		t.Fatalf("MESSAGE_CREATE without GUILD_MESSAGES: %+v", m.Message)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestGatewayDisallowedIntentAndBadToken(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, func(c *Config) { c.MessageContentIntent = false })
	sess, _ := srv.Session()
	sess.ShouldReconnectOnError = false
	sess.Identify.Intents = discordgo.IntentMessageContent | discordgo.IntentsGuildMessages
	if err := sess.Open(); err == nil {
		sess.Close()
		t.Fatal("IDENTIFY with a disallowed intent succeeded")
	}
	bad, _ := NewSession(srv.URL(), "wrong")
	bad.ShouldReconnectOnError = false
	// GET /gateway needs no token; IDENTIFY then fails with 4004.
	if err := bad.Open(); err == nil {
		bad.Close()
		t.Fatal("IDENTIFY with a bad token succeeded")
	}
	// Without the privileged intent, REST shows others' messages empty too:
	// one message, the channel's list and the pins.
	good, _ := srv.Session()
	ch := srv.Info().ChannelID
	posted := postAsWebhook(t, good, ch)
	got, err := good.ChannelMessage(ch, posted.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantHidden(t, "REST get", got, true)
	list, err := good.ChannelMessages(ch, 10, "", "", "")
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %v %d", err, len(list))
	}
	wantHidden(t, "REST list", list[0], true)
	if err := good.ChannelMessagePin(ch, posted.ID); err != nil {
		t.Fatal(err)
	}
	pins, err := good.ChannelMessagesPinned(ch)
	if err != nil || len(pins) != 1 {
		t.Fatalf("pins: %v %d", err, len(pins))
	}
	wantHidden(t, "REST pins", pins[0], true)
}

func TestGatewayResume(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, func(c *Config) { c.HeartbeatInterval = 200 * time.Millisecond })
	sess, msgs, ready := openBot(t, srv, discordgo.IntentsGuilds|discordgo.IntentsGuildMessages|discordgo.IntentMessageContent)
	waitFor(t, ready, "READY")
	resumed := make(chan *discordgo.Resumed, 1)
	sess.AddHandler(func(_ *discordgo.Session, r *discordgo.Resumed) { resumed <- r })

	// Heartbeats keep the session alive past several intervals.
	time.Sleep(700 * time.Millisecond)
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "one"}, nil)
	if m := waitFor(t, msgs, "MESSAGE_CREATE"); m.Content != "one" {
		t.Fatalf("got %q", m.Content)
	}
	var n map[string]int
	control(t, srv, "POST", "/_emulator/gateway/reconnect", nil, &n)
	if n["sessions"] != 1 {
		t.Fatalf("reconnect reached %v", n)
	}
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "two"}, nil)
	waitFor(t, resumed, "RESUMED")
	if m := waitFor(t, msgs, "MESSAGE_CREATE after resume"); m.Content != "two" {
		t.Fatalf("got %q", m.Content)
	}
	select {
	case <-ready:
		t.Fatal("the client identified again instead of resuming")
	default:
	}
}

func TestGatewayBot(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, nil)
	gb, err := sess.GatewayBot()
	if err != nil {
		t.Fatal(err)
	}
	// discordgo adds a trailing slash to the URL it is given.
	want := "ws" + strings.TrimPrefix(srv.URL(), "http") + "/gateway/"
	if gb.URL != want || gb.Shards != 1 {
		t.Fatalf("gateway/bot %+v, want url %s and 1 shard", gb, want)
	}
	if l := gb.SessionStartLimit; l.Total != 1000 || l.Remaining != 1000 || l.MaxConcurrency != 1 {
		t.Fatalf("session_start_limit %+v", l)
	}
	plain, err := sess.Gateway()
	if err != nil || plain != want {
		t.Fatalf("gateway: %v %q", err, plain)
	}
	// Unlike GET /gateway, /gateway/bot needs the bot's token.
	bad, err := NewSession(srv.URL(), "wrong")
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.GatewayBot()
	wantAPIMessage(t, err, 401, CodeGeneral, "401: Unauthorized")
	if _, err := bad.Gateway(); err != nil {
		t.Fatalf("GET /gateway with a bad token: %v", err)
	}
}
