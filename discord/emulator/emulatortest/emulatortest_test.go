package emulatortest

import (
	"testing"

	"github.com/discofs/discofs/discord/emulator"
)

func TestStart(t *testing.T) {
	srv, sess := Start(t, emulator.FastConfig())
	m, err := sess.ChannelMessageSend(srv.Info().ChannelID, "hello")
	if err != nil || m.Content != "hello" {
		t.Fatalf("%v %+v", err, m)
	}
}
