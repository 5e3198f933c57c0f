package emulator

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bwmarrin/discordgo"
)

// TestRoles: the administrator holds the admin role, a created role reaches the guild's
// roles and the gateway, and the roles given to a member show in its permissions and in the
// member of an interaction.
func TestRoles(t *testing.T) {
	t.Parallel()
	srv, sess := start(t, nil)
	info := srv.Info()
	if info.AdminID == "" || info.AdminID == info.OwnerID || info.AdminRoleID == "" {
		t.Fatalf("info %+v", info)
	}
	admin, err := sess.GuildMember(info.GuildID, info.AdminID)
	if err != nil || !slices.Contains(admin.Roles, info.AdminRoleID) {
		t.Fatalf("the administrator: %+v %v", admin, err)
	}
	bot, _, _ := openBot(t, srv, discordgo.IntentsGuilds)
	created := make(chan *discordgo.GuildRoleCreate, 1)
	bot.AddHandler(func(_ *discordgo.Session, r *discordgo.GuildRoleCreate) { created <- r })
	interactions := make(chan *discordgo.InteractionCreate, 2)
	bot.AddHandler(func(_ *discordgo.Session, i *discordgo.InteractionCreate) { interactions <- i })

	var role struct {
		ID          string `json:"id"`
		Permissions string `json:"permissions"`
	}
	control(t, srv, "POST", "/_emulator/roles", map[string]any{"name": "archivists", "permissions": []string{"MANAGE_MESSAGES"}}, &role)
	if role.ID == "" || role.Permissions != strconv.FormatInt(PermManageMessages, 10) {
		t.Fatalf("created role %+v", role)
	}
	if r := waitFor(t, created, "GUILD_ROLE_CREATE"); r.Role.ID != role.ID || r.GuildID != info.GuildID {
		t.Fatalf("GUILD_ROLE_CREATE %+v", r)
	}
	roles, err := sess.GuildRoles(info.GuildID)
	if err != nil || !slices.ContainsFunc(roles, func(r *discordgo.Role) bool { return r.ID == role.ID }) {
		t.Fatalf("the guild's roles: %v %v", roles, err)
	}
	var m struct {
		Roles       []string `json:"roles"`
		Permissions string   `json:"permissions"`
	}
	control(t, srv, "POST", "/_emulator/members", map[string]any{"user_id": info.MemberID, "roles": []string{role.ID}}, &m)
	if p, _ := strconv.ParseInt(m.Permissions, 10, 64); !slices.Equal(m.Roles, []string{role.ID}) || p&PermManageMessages == 0 || p&PermAdministrator != 0 {
		t.Fatalf("the member with the role: %+v", m)
	}
	if code := control(t, srv, "POST", "/_emulator/members", map[string]any{"user_id": info.MemberID, "roles": []string{info.GuildID}}, nil); code != 400 {
		t.Fatalf("giving @everyone: HTTP %d", code)
	}

	if _, err := sess.ApplicationCommandCreate(info.ApplicationID, info.GuildID, &discordgo.ApplicationCommand{Name: "status", Description: "status"}); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{info.MemberID, info.AdminID} {
		// Nobody answers: the control request ends with a 504 after timeout_ms.
		done := make(chan struct{})
		go func() {
			defer close(done)
			body := `{"user_id":"` + user + `","command":"status","timeout_ms":300}`
			if resp, err := http.Post(srv.URL()+"/_emulator/interactions", "application/json", strings.NewReader(body)); err == nil {
				resp.Body.Close()
			}
		}()
		i := waitFor(t, interactions, "INTERACTION_CREATE")
		<-done
		admin := i.Member.Permissions&discordgo.PermissionAdministrator != 0
		switch {
		case i.Member.User.ID != user:
			t.Fatalf("interaction of %s", i.Member.User.ID)
		case user == info.MemberID && (admin || !slices.Equal(i.Member.Roles, []string{role.ID}) || i.Member.Permissions&discordgo.PermissionManageMessages == 0):
			t.Errorf("the member in an interaction: roles %v, permissions %d", i.Member.Roles, i.Member.Permissions)
		case user == info.AdminID && (!admin || !slices.Contains(i.Member.Roles, info.AdminRoleID)):
			t.Errorf("the administrator in an interaction: roles %v, permissions %d", i.Member.Roles, i.Member.Permissions)
		}
	}
}
