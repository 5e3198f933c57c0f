package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// prop is one property of a response schema: the JSON types it may take
// ("|"-separated: string, snowflake, integer, number, boolean, array,
// object, null), whether the schema requires it, and the schema an object,
// or each item of an array, must match.
type prop struct {
	types    string
	required bool
	ref      string
}

func req(types string, ref ...string) prop { return prop{types, true, strings.Join(ref, "")} }
func opt(types string, ref ...string) prop { return prop{types, false, strings.Join(ref, "")} }

// specSchemas is a hand-kept subset of the response schemas of Discord's
// OpenAPI description (github.com/discord/discord-api-spec,
// specs/openapi.json, API v10): the properties the emulator answers with,
// typed as the description types them. snowflake is the description's
// SnowflakeType, a string of decimal digits. A property the emulator sends
// that is not listed here fails the test, so a new field is checked against
// the description before it is added; deviations are listed in doc.go.
var specSchemas = map[string]map[string]prop{
	"MessageResponse": {
		"type": req("integer"), "content": req("string"), "mentions": req("array", "UserResponse"),
		"mention_roles": req("array"), "attachments": req("array", "MessageAttachmentResponse"),
		"embeds": req("array", "MessageEmbedResponse"), "timestamp": req("string"),
		"edited_timestamp": req("string|null"), "flags": req("integer"), "components": req("array"),
		"id": req("snowflake"), "channel_id": req("snowflake"), "author": req("object", "UserResponse"),
		"pinned": req("boolean"), "mention_everyone": req("boolean"), "tts": req("boolean"),
		"application_id": opt("snowflake"), "nonce": opt("integer|string"), "webhook_id": opt("snowflake"),
		"message_reference": opt("object", "MessageReferenceResponse"), "thread": opt("object", "ThreadResponse"),
		"position": opt("integer"), "reactions": opt("array", "MessageReactionResponse"),
		"interaction_metadata": opt("object"),
	},
	"MessageAttachmentResponse": {
		"id": req("snowflake"), "filename": req("string"), "size": req("integer"), "url": req("string"),
		"proxy_url": req("string"), "content_type": opt("string"), "description": opt("string"),
	},
	"MessageEmbedResponse": {
		"type": req("string"), "url": opt("string"), "title": opt("string"), "description": opt("string"),
		"color": opt("integer"), "timestamp": opt("string"), "fields": opt("array", "MessageEmbedFieldResponse"),
		"author": opt("object"), "provider": opt("object"), "image": opt("object"), "thumbnail": opt("object"),
		"video": opt("object"), "footer": opt("object"),
	},
	"MessageEmbedFieldResponse": {"name": req("string"), "value": req("string"), "inline": req("boolean")},
	"MessageReactionResponse": {
		"emoji": req("object", "MessageReactionEmojiResponse"), "count": req("integer"), "count_details": req("object"),
		"burst_colors": req("array"), "me_burst": req("boolean"), "me": req("boolean"),
	},
	"MessageReactionEmojiResponse": {"id": req("snowflake|null"), "name": req("string|null"), "animated": opt("boolean")},
	"MessageReferenceResponse": {
		"type": opt("integer"), "channel_id": req("snowflake"), "message_id": opt("snowflake"), "guild_id": opt("snowflake"),
	},
	"UserResponse": {
		"id": req("snowflake"), "username": req("string"), "avatar": opt("string|null"), "discriminator": req("string"),
		"public_flags": req("integer"), "flags": req("integer"), "bot": opt("boolean"), "global_name": opt("string|null"),
	},
	"UserPIIResponse": {
		"id": req("snowflake"), "username": req("string"), "avatar": opt("string|null"), "discriminator": req("string"),
		"public_flags": req("integer"), "flags": req("integer"), "bot": opt("boolean"), "global_name": opt("string|null"),
		"mfa_enabled": req("boolean"), "locale": req("string"), "premium_type": opt("integer"),
		"email": opt("string|null"), "verified": opt("boolean"),
	},
	"GuildChannelResponse": {
		"id": req("snowflake"), "type": req("integer"), "last_message_id": opt("snowflake|null"), "flags": req("integer"),
		"guild_id": req("snowflake"), "name": req("string"), "parent_id": opt("snowflake|null"),
		"rate_limit_per_user": opt("integer"), "position": req("integer"), "permission_overwrites": opt("array"),
		"topic": opt("string|null"), "nsfw": opt("boolean"),
	},
	"ThreadResponse": {
		"id": req("snowflake"), "type": req("integer"), "last_message_id": opt("snowflake|null"), "flags": req("integer"),
		"guild_id": req("snowflake"), "name": req("string"), "parent_id": opt("snowflake|null"),
		"rate_limit_per_user": opt("integer"), "owner_id": req("snowflake"),
		"thread_metadata": opt("object", "ThreadMetadataResponse"), "message_count": req("integer"),
		"member_count": req("integer"), "total_message_sent": req("integer"), "member": opt("object"),
	},
	"ThreadMetadataResponse": {
		"archived": req("boolean"), "archive_timestamp": opt("string|null"), "auto_archive_duration": req("integer"),
		"locked": req("boolean"), "create_timestamp": opt("string|null"), "invitable": opt("boolean"),
	},
	"ThreadsResponse": {
		"threads": req("array", "ThreadResponse"), "members": req("array"), "has_more": opt("boolean"),
	},
	"GatewayResponse": {"url": req("string")},
	"GatewayBotResponse": {
		"url": req("string"), "shards": req("integer"),
		"session_start_limit": req("object", "GatewayBotSessionStartLimitResponse"),
	},
	"GatewayBotSessionStartLimitResponse": {
		"max_concurrency": req("integer"), "remaining": req("integer"), "reset_after": req("integer"), "total": req("integer"),
	},
	"ApplicationCommandResponse": {
		"id": req("snowflake"), "application_id": req("snowflake"), "version": req("snowflake"),
		"default_member_permissions": opt("string|null"), "type": req("integer"), "name": req("string"),
		"description": req("string"), "guild_id": opt("snowflake"), "dm_permission": opt("boolean"),
		"options": opt("array"), "nsfw": opt("boolean"),
	},
	"GuildIncomingWebhookResponse": {
		"application_id": opt("snowflake|null"), "avatar": opt("string|null"), "channel_id": opt("snowflake|null"),
		"guild_id": opt("snowflake|null"), "id": req("snowflake"), "name": req("string"), "type": req("integer"),
		"user": opt("object", "UserResponse"), "token": opt("string"), "url": opt("string"),
	},
}

var snowflakeRE = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)

// jsonTypes names the types of the spec that v, as encoding/json decodes
// it, belongs to.
func jsonTypes(v any) []string {
	switch x := v.(type) {
	case nil:
		return []string{"null"}
	case string:
		if snowflakeRE.MatchString(x) {
			return []string{"string", "snowflake"}
		}
		return []string{"string"}
	case float64:
		if x == math.Trunc(x) {
			return []string{"number", "integer"}
		}
		return []string{"number"}
	case bool:
		return []string{"boolean"}
	case []any:
		return []string{"array"}
	case map[string]any:
		return []string{"object"}
	}
	return []string{fmt.Sprintf("%T", v)}
}

// reporter is what checkSchema reports through: a *testing.T, or a
// recorder in the test of the checker itself.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// checkSchema reports every way v differs from the schema: a required
// property missing, a property of the wrong type, a property the schema
// does not list; it follows refs into objects and arrays.
func checkSchema(t reporter, schema, at string, v any) map[string]any {
	t.Helper()
	props, ok := specSchemas[schema]
	if !ok {
		t.Errorf("no schema %s", schema)
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s (%s): not an object: %v", at, schema, v)
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		p := props[k]
		val, present := obj[k]
		if !present {
			if p.required {
				t.Errorf("%s (%s) lacks required %q", at, schema, k)
			}
			continue
		}
		allowed := strings.Split(p.types, "|")
		if !slices.ContainsFunc(jsonTypes(val), func(ty string) bool { return slices.Contains(allowed, ty) }) {
			t.Errorf("%s.%s (%s): %v is %v, want %s", at, k, schema, val, jsonTypes(val), p.types)
			continue
		}
		if p.ref == "" {
			continue
		}
		switch x := val.(type) {
		case map[string]any:
			checkSchema(t, p.ref, at+"."+k, x)
		case []any:
			for i, item := range x {
				checkSchema(t, p.ref, fmt.Sprintf("%s.%s[%d]", at, k, i), item)
			}
		}
	}
	for k := range obj {
		if _, ok := props[k]; !ok {
			t.Errorf("%s (%s) has %q, which the schema subset does not list", at, schema, k)
		}
	}
	return obj
}

// checkEach checks every item of an array answer.
func checkEach(t *testing.T, schema, at string, v any) []any {
	t.Helper()
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		t.Fatalf("%s: want a non-empty array, got %v", at, v)
	}
	for i, item := range list {
		checkSchema(t, schema, fmt.Sprintf("%s[%d]", at, i), item)
	}
	return list
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

// recorder counts the reports of checkSchema.
type recorder struct{ errors []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestSchemaCheckFails makes sure the checker catches what it is for.
func TestSchemaCheckFails(t *testing.T) {
	good := map[string]any{"id": "1", "filename": "a", "size": 1.0, "url": "u", "proxy_url": "u"}
	with := func(k string, v any) map[string]any {
		m := maps.Clone(good)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	var r recorder
	if checkSchema(&r, "MessageAttachmentResponse", "good", good); len(r.errors) != 0 {
		t.Fatalf("a good attachment failed: %v", r.errors)
	}
	for name, v := range map[string]map[string]any{
		"missing":         with("proxy_url", nil),
		"wrong type":      with("size", "1"),
		"not a snowflake": with("id", "x1"),
		"not an integer":  with("size", 1.5),
		"unlisted":        with("sizes", 1.0),
	} {
		r := recorder{}
		if checkSchema(&r, "MessageAttachmentResponse", name, v); len(r.errors) != 1 {
			t.Errorf("%s: %d reports, want 1: %v", name, len(r.errors), r.errors)
		}
	}
	r = recorder{}
	checkSchema(&r, "MessageResponse", "nested", map[string]any{"author": map[string]any{"id": 1.0}})
	if !slices.ContainsFunc(r.errors, func(e string) bool { return strings.Contains(e, "nested.author.id") }) {
		t.Errorf("a nested error was not reported: %v", r.errors)
	}
}

func TestResponsesMatchOpenAPI(t *testing.T) {
	srv, sess := start(t, nil)
	info := srv.Info()
	ch := info.ChannelID
	m, err := sendFiles(sess, ch, "card", map[string][]byte{"p.bin": pattern(10, 1)}, "p.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sess.ChannelMessageEditEmbed(ch, m.ID, &discordgo.MessageEmbed{Title: "t", Color: 0x2ECC71,
		Fields: []*discordgo.MessageEmbedField{{Name: "n", Value: "v"}}, Footer: &discordgo.MessageEmbedFooter{Text: "f"}}); err != nil {
		t.Fatal(err)
	}
	if err := sess.MessageReactionAdd(ch, m.ID, "✅"); err != nil {
		t.Fatal(err)
	}
	th := checkSchema(t, "ThreadResponse", "start thread", rawJSON(t, sess, "POST", discordgo.EndpointChannelMessageThread(ch, m.ID),
		map[string]any{"name": "chunks"}))
	if _, ok := th["thread_metadata"]; !ok {
		t.Errorf("thread without thread_metadata: %v", th)
	}
	if err := sess.ChannelMessagePin(ch, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rawSend(sess, ch, map[string]any{"content": "n", "nonce": "k-1", "enforce_nonce": true}); err != nil {
		t.Fatal(err)
	}

	msg := checkSchema(t, "MessageResponse", "message", rawJSON(t, sess, "GET", discordgo.EndpointChannelMessage(ch, m.ID), nil))
	for _, k := range []string{"attachments", "embeds", "reactions"} {
		if l, _ := msg[k].([]any); len(l) == 0 {
			t.Errorf("the message has no %s to check: %v", k, msg)
		}
	}
	if _, ok := msg["thread"]; !ok {
		t.Errorf("the message has no thread to check")
	}
	list := checkEach(t, "MessageResponse", "messages", rawJSON(t, sess, "GET", discordgo.EndpointChannelMessages(ch)+"?limit=10", nil))
	if len(list) != 3 || list[1].(map[string]any)["message_reference"] == nil || list[0].(map[string]any)["nonce"] == nil {
		t.Errorf("want the nonce message, the pin notice with a message_reference and the card: %v", list)
	}
	checkEach(t, "MessageResponse", "pins", rawJSON(t, sess, "GET", discordgo.EndpointChannelMessagesPins(ch), nil))
	checkSchema(t, "ThreadsResponse", "active threads", rawJSON(t, sess, "GET", discordgo.EndpointGuildActiveThreads(info.GuildID), nil))
	checkSchema(t, "GuildChannelResponse", "channel", rawJSON(t, sess, "GET", discordgo.EndpointChannel(ch), nil))
	checkSchema(t, "ThreadResponse", "thread", rawJSON(t, sess, "GET", discordgo.EndpointChannel(th["id"].(string)), nil))
	checkSchema(t, "UserPIIResponse", "@me", rawJSON(t, sess, "GET", discordgo.EndpointUser("@me"), nil))
	checkSchema(t, "UserResponse", "user", rawJSON(t, sess, "GET", discordgo.EndpointUser(info.MemberID), nil))
	checkSchema(t, "GatewayResponse", "gateway", rawJSON(t, sess, "GET", discordgo.EndpointGateway, nil))
	checkSchema(t, "GatewayBotResponse", "gateway/bot", rawJSON(t, sess, "GET", discordgo.EndpointGatewayBot, nil))

	wh := checkSchema(t, "GuildIncomingWebhookResponse", "webhook", rawJSON(t, sess, "POST", discordgo.EndpointChannelWebhooks(ch),
		map[string]any{"name": "lane"}))
	id, tok := wh["id"].(string), wh["token"].(string)
	if tok == "" || wh["url"] == nil {
		t.Errorf("a new webhook without its token and url: %v", wh)
	}
	if got := checkSchema(t, "GuildIncomingWebhookResponse", "webhook by token", rawJSON(t, sess, "GET", discordgo.EndpointWebhookToken(id, tok), nil)); got["token"] != nil {
		t.Errorf("GET by token shows the token: %v", got)
	}
	checkSchema(t, "MessageResponse", "webhook message", rawJSON(t, sess, "POST", discordgo.EndpointWebhookToken(id, tok)+"?wait=true",
		map[string]any{"content": "w", "embeds": []any{map[string]any{"title": "e"}}}))

	cmds := []map[string]any{{"name": "status", "description": "Show an archive", "options": []any{
		map[string]any{"type": 3, "name": "archive", "description": "Archive ID", "required": true}}}}
	checkEach(t, "ApplicationCommandResponse", "overwrite commands", rawJSON(t, sess, "PUT", discordgo.EndpointApplicationGlobalCommands(info.ApplicationID), cmds))
	checkEach(t, "ApplicationCommandResponse", "commands", rawJSON(t, sess, "GET", discordgo.EndpointApplicationGlobalCommands(info.ApplicationID), nil))
}
