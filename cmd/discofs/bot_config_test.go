package main

import (
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/discofs/discofs/discord"
	"github.com/discofs/discofs/vault"
)

// TestBotSettingsInConfig keeps the allowlist and the download folder in config.json with
// --save, and checks that later runs take them from there and that flags override them.
func TestBotSettingsInConfig(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	paths := vault.HomePaths(home)
	if err := vault.SaveConfig(paths, &vault.Config{Version: vault.ConfigVersion, VaultID: "v", Store: "discord:123"}); err != nil {
		t.Fatal(err)
	}
	e := &env{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	downloads := filepath.Join(t.TempDir(), "dl")
	bf := &botFlags{home: home, allow: "111, 222", downloadDir: downloads, save: true}
	vc, err := vault.LoadConfig(paths)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := bf.config(vc)
	if err != nil {
		t.Fatal(err)
	}
	if err := saveBotSettings(e, bf, &cfg); err != nil {
		t.Fatal(err)
	}
	if vc, err = vault.LoadConfig(paths); err != nil || vc.Bot == nil || !slices.Equal(vc.Bot.Allow, []string{"111", "222"}) || vc.Bot.DownloadDir != downloads {
		t.Fatalf("config after --save: %+v %v", vc.Bot, err)
	}

	for _, c := range []struct {
		flags     botFlags
		allow     []string
		downloads string
	}{
		{botFlags{}, []string{"111", "222"}, downloads},
		{botFlags{allow: "333"}, []string{"333"}, downloads},
		{botFlags{downloadDir: "/srv/elsewhere"}, []string{"111", "222"}, "/srv/elsewhere"},
	} {
		var got discord.BotConfig
		if got, err = c.flags.config(vc); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Allow, c.allow) || got.DownloadDir != c.downloads || got.ChannelID != "123" {
			t.Errorf("flags %+v: allow %v, downloads %q, channel %s", c.flags, got.Allow, got.DownloadDir, got.ChannelID)
		}
	}
	vc.Bot.Allow = []string{"not-an-id"}
	if _, err := (&botFlags{}).config(vc); err == nil {
		t.Error("a bad ID in the config was taken")
	}
}
