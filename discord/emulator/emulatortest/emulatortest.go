// Package emulatortest starts a discord/emulator server for one test and
// hands back a discordgo session that talks to it.
//
//	srv, sess := emulatortest.Start(t, emulator.FastConfig())
//	m, err := sess.ChannelMessageSend(srv.Info().ChannelID, "hello")
package emulatortest

import (
	"testing"

	"github.com/bwmarrin/discordgo"

	"github.com/discofs/discofs/discord/emulator"
)

// Start runs an emulator with cfg on a free loopback port until the test
// ends, and returns it with a bot session (REST and CDN rewritten to the
// emulator; call Open for the gateway).
func Start(tb testing.TB, cfg emulator.Config) (*emulator.Server, *discordgo.Session) {
	tb.Helper()
	srv, err := emulator.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := srv.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := srv.Close(); err != nil {
			tb.Errorf("emulator close: %v", err)
		}
	})
	sess, err := srv.Session()
	if err != nil {
		tb.Fatal(err)
	}
	return srv, sess
}
