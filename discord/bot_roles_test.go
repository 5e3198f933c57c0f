package discord

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/discofs/discofs/discord/emulator"
)

// TestBotRoles checks who may use the bot by role: by default an administrator through a
// role, not only the owner; with an allowlist, the members holding a listed role and nobody
// with only other roles, administrators included.
func TestBotRoles(t *testing.T) {
	t.Parallel()
	// allowedTo says whether user's /status and !status are answered, and fails the test
	// when the two disagree.
	allowedTo := func(t *testing.T, h *botHarness, user string) bool {
		t.Helper()
		slash := !strings.Contains(h.invoke(t, user, "status", nil).Content, "Sorry")
		r := h.replyTo(t, h.say(t, user, "!status"), "", 5*time.Second)
		if r == nil {
			t.Fatalf("user %s: !status is not answered", user)
		}
		prefix := !strings.Contains(r.Content, "Sorry")
		if slash != prefix {
			t.Errorf("user %s: /status allowed %v, !status allowed %v", user, slash, prefix)
		}
		return slash
	}
	t.Run("administrators", func(t *testing.T) {
		t.Parallel()
		h := newBotHarness(t, nil, nil)
		m, err := h.sess.GuildMember(h.info.GuildID, h.info.AdminID)
		if err != nil || !slices.Contains(m.Roles, h.info.AdminRoleID) || h.info.AdminID == h.info.OwnerID {
			t.Fatalf("the emulator's administrator: %+v %v", m, err)
		}
		if !allowedTo(t, h, h.info.AdminID) {
			t.Error("an administrator by role is refused")
		}
		if allowedTo(t, h, h.info.MemberID) {
			t.Error("a member without roles is allowed")
		}
	})
	t.Run("allowlist", func(t *testing.T) {
		t.Parallel()
		var archivists, gardeners string
		h := newBotHarness(t, nil, func(c *BotConfig, info emulator.Info) {
			ctl := &botHarness{info: info}
			archivists = ctl.role(t, "archivists")
			gardeners = ctl.role(t, "gardeners")
			c.Allow = []string{archivists}
		})
		h.setRoles(t, h.info.MemberID, gardeners)
		if allowedTo(t, h, h.info.MemberID) {
			t.Error("a member with a role not in the allowlist is allowed")
		}
		if allowedTo(t, h, h.info.AdminID) {
			t.Error("an administrator outside the allowlist is allowed")
		}
		h.setRoles(t, h.info.MemberID, gardeners, archivists)
		if !allowedTo(t, h, h.info.MemberID) {
			t.Error("a member with a role in the allowlist is refused")
		}
	})
}

// role creates a role without permissions of its own in the emulator's guild and returns
// its ID.
func (h *botHarness) role(t *testing.T, name string) string {
	t.Helper()
	var r struct{ ID string }
	if code := h.control(t, "/_emulator/roles", map[string]any{"name": name}, &r); code != 200 || r.ID == "" {
		t.Fatalf("create role %s: HTTP %d %+v", name, code, r)
	}
	return r.ID
}

// setRoles makes roles the roles user holds.
func (h *botHarness) setRoles(t *testing.T, user string, roles ...string) {
	t.Helper()
	var m struct{ Roles []string }
	if code := h.control(t, "/_emulator/members", map[string]any{"user_id": user, "roles": roles}, &m); code != 200 || len(m.Roles) != len(roles) {
		t.Fatalf("roles of %s: HTTP %d %+v", user, code, m)
	}
}
