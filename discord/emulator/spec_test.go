package emulator

import (
	"encoding/json"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// Required properties of response schemas in Discord's OpenAPI description
// (github.com/discord/discord-api-spec, specs/openapi.json, API v10).
var specRequired = map[string][]string{
	"MessageResponse": {"type", "content", "mentions", "mention_roles", "attachments", "embeds", "timestamp",
		"flags", "components", "id", "channel_id", "author", "pinned", "mention_everyone", "tts"},
	"MessageAttachmentResponse": {"id", "filename", "size", "url", "proxy_url"},
	"UserResponse":              {"id", "username", "discriminator", "public_flags", "flags"},
	"MessageEmbedFieldResponse": {"name", "value", "inline"},
	"MessageEmbedResponse":      {"type"},
	"MessageReactionResponse":   {"emoji", "count", "count_details", "burst_colors", "me_burst", "me"},
	"ThreadResponse": {"id", "type", "flags", "guild_id", "name", "owner_id", "message_count",
		"member_count", "total_message_sent"},
	"ThreadsResponse": {"threads", "members"},
}

func requireKeys(t *testing.T, schema string, v any) map[string]any {
	t.Helper()
	obj, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s: not an object: %v", schema, v)
	}
	for _, k := range specRequired[schema] {
		if _, ok := obj[k]; !ok {
			t.Errorf("%s lacks required %q: %v", schema, k, obj)
		}
	}
	return obj
}

func rawJSON(t *testing.T, sess *discordgo.Session, method, url string, body any) any {
	t.Helper()
	b, err := sess.Request(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestResponsesMatchOpenAPI(t *testing.T) {
	srv, sess := start(t, nil)
	ch := srv.Info().ChannelID
	m, err := sendFiles(sess, ch, "card", map[string][]byte{"p.bin": pattern(10, 1)}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.ChannelMessageEditEmbed(ch, m.ID, &discordgo.MessageEmbed{Title: "t",
		Fields: []*discordgo.MessageEmbedField{{Name: "n", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	if err := sess.MessageReactionAdd(ch, m.ID, "✅"); err != nil {
		t.Fatal(err)
	}
	msg := requireKeys(t, "MessageResponse", rawJSON(t, sess, "GET", discordgo.EndpointChannelMessage(ch, m.ID), nil))
	requireKeys(t, "UserResponse", msg["author"])
	requireKeys(t, "MessageAttachmentResponse", msg["attachments"].([]any)[0])
	emb := requireKeys(t, "MessageEmbedResponse", msg["embeds"].([]any)[0])
	requireKeys(t, "MessageEmbedFieldResponse", emb["fields"].([]any)[0])
	requireKeys(t, "MessageReactionResponse", msg["reactions"].([]any)[0])
	if _, ok := msg["edited_timestamp"].(string); !ok {
		t.Errorf("edited_timestamp %v", msg["edited_timestamp"])
	}

	th := requireKeys(t, "ThreadResponse", rawJSON(t, sess, "POST", discordgo.EndpointChannelMessageThread(ch, m.ID),
		map[string]any{"name": "chunks"}))
	if _, ok := th["thread_metadata"].(map[string]any); !ok {
		t.Errorf("thread without thread_metadata: %v", th)
	}
	list := requireKeys(t, "ThreadsResponse", rawJSON(t, sess, "GET", discordgo.EndpointGuildActiveThreads(srv.Info().GuildID), nil))
	requireKeys(t, "ThreadResponse", list["threads"].([]any)[0])
	requireKeys(t, "UserResponse", rawJSON(t, sess, "GET", discordgo.EndpointUser("@me"), nil))
}
