// Package emulator is a loopback Discord: REST (API v9 and v10), CDN and
// gateway websocket, enough of each for discofs, its bot and discordgo, and
// faithful where discofs could go wrong: Discord's limits and error codes,
// rate-limit buckets and headers, the global and invalid-request limits,
// signed CDN URLs that expire, nonce idempotency, thread archiving,
// MESSAGE_CONTENT stripping, interactions and their 3-second deadline.
//
// Tests start a Server with New and Start, and drive it through discordgo
// with NewSession (a Session whose HTTP transport sends discord.com and the
// CDN hosts to the emulator). The /_emulator/ control API injects faults,
// expires URLs, corrupts attachments, posts as users, invokes slash commands,
// clicks buttons, gives users roles, drops or recycles gateway connections and
// dumps the state; README.md documents it and the `discofs emulator`
// command (Main).
//
// # Deviations from Discord
//
// Checked against Discord's OpenAPI description (discord/discord-api-spec,
// specs/openapi.json; spec_test.go keeps a typed subset of its response
// schemas and checks the main answers against it), the responses carry the
// fields discofs and discordgo read, with these known differences:
//
//   - One guild, one bot. Permissions are guild-wide (no channel
//     overwrites); the owner and holders of a role with ADMINISTRATOR may
//     do anything, others have @everyone's and their roles' permissions.
//     Changing a member's roles sends no GUILD_MEMBER_UPDATE.
//   - Message objects omit rarely used optional fields (stickers, polls,
//     activity, call, role subscription data); user objects have no avatar,
//     banner or decoration.
//   - Components are action rows of buttons only; any other component type
//     is refused with 400/50035 rather than stored half-understood. Webhook
//     messages keep buttons whoever owns the webhook.
//   - Attachment objects have no width, height, ephemeral, duration or
//     waveform; proxy_url equals url.
//   - Characters are counted as Unicode code points. Content is capped at
//     Config.MaxContent (2000, Discord's documented limit for bots) although
//     the OpenAPI description allows 4000.
//   - A known path with the wrong method answers Go's plain-text 405, not
//     Discord's JSON one.
//   - 11 files in one message answer 400 with code 30015.
//   - The invalid-request ban answers JSON 429s with global true (Discord's
//     Cloudflare ban answers without a JSON body).
//   - 429 storms (Faults.Storm429) carry X-RateLimit-Scope "shared" and do
//     not count towards the ban.
//   - A webhook's execute, edit and get answers show its message in full,
//     whatever the MESSAGE_CONTENT switch (see below).
//   - Gateway payloads are never compressed, whatever IDENTIFY asks; presence
//     and voice opcodes are accepted and ignored; GUILD_MEMBERS_CHUNK is not
//     sent.
//   - The new-style pins list (/messages/pins) never pages (has_more false).
//   - Refreshing a URL of an attachment that no longer exists returns it
//     unchanged.
//   - A slash command's responses of type 6 and 7, and any of type 8 and 9,
//     are acknowledged and otherwise ignored (a click's 6 and 7 work).
//
// Faithful on purpose: MESSAGE_CONTENT. REST hides others' content, embeds,
// attachments and components when Config.MessageContentIntent (the
// developer-portal switch) is off, whatever intents gateway sessions asked for;
// the gateway hides them from each session that did not ask for the intent.
// Archived threads are listed strictly before the
// given archive_timestamp, and discordgo's ThreadsArchived sends `before`
// with second precision, so paging with it can skip threads archived in the
// same second, as against Discord.
//
// Lock order: Server.mu, then hub.mu, then the blob store's lock; the
// fault state and the rate limiter have leaf locks. Methods whose names
// start with "_" need Server.mu held.
package emulator
