package emulator

import (
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

func TestGatewayIntents(t *testing.T) {
	t.Parallel()
	srv, _ := start(t, nil)
	info := srv.Info()
	_, plain, _ := openBot(t, srv, discordgo.IntentsGuilds|discordgo.IntentsGuildMessages)
	_, full, _ := openBot(t, srv, discordgo.IntentsGuilds|discordgo.IntentsGuildMessages|discordgo.IntentMessageContent)
	_, none, _ := openBot(t, srv, discordgo.IntentsGuilds)

	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "!download #170126-01"}, nil)
	if m := waitFor(t, plain, "MESSAGE_CREATE without MESSAGE_CONTENT"); m.Content != "" || len(m.Attachments) != 0 {
		t.Fatalf("content leaked without the intent: %q", m.Content)
	}
	if m := waitFor(t, full, "MESSAGE_CREATE with MESSAGE_CONTENT"); m.Content != "!download #170126-01" {
		t.Fatalf("content %q", m.Content)
	}
	// A mention of the bot is visible without the intent.
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "<@" + info.ApplicationID + "> status"}, nil)
	if m := waitFor(t, plain, "mention"); m.Content == "" {
		t.Fatal("a mention of the bot was stripped")
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
	// Without the privileged intent, REST shows others' messages empty too.
	var posted discordgo.Message
	control(t, srv, "POST", "/_emulator/messages", map[string]string{"content": "secret"}, &posted)
	good, _ := srv.Session()
	got, err := good.ChannelMessage(srv.Info().ChannelID, posted.ID)
	if err != nil || got.Content != "" {
		t.Fatalf("REST content without the intent: %v %q", err, got.Content)
	}
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
