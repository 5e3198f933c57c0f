package emulator

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// addAdmin gives a state without one (new, or kept from before administrators
// existed) an "admin" role with ADMINISTRATOR and a user who holds it.
func (st *state) addAdmin(now time.Time) {
	if st.AdminID != "" {
		return
	}
	st.AdminRoleID = st.newSnowflake(now)
	st.Roles[st.AdminRoleID] = &role{ID: st.AdminRoleID, Name: "admin", Permissions: PermAdministrator, Position: 2}
	st.AdminID = st.newSnowflake(now)
	st.Users[st.AdminID] = &user{ID: st.AdminID, Username: "admin", GlobalName: "Admin"}
	st.MemberRoles[st.AdminID] = []string{st.AdminRoleID}
}

// _memberRoles are the role IDs a user holds, the bot's managed role for the bot.
func (s *Server) _memberRoles(userID string) []string {
	out := []string{}
	if userID == s.st.AppID {
		out = append(out, s.st.BotRoleID)
	}
	return append(out, s.st.MemberRoles[userID]...)
}

// _userPerms is what a user may do in the guild: everything for the owner and
// for holders of a role with ADMINISTRATOR, else @everyone's permissions and
// those of the user's roles.
func (s *Server) _userPerms(userID string) int64 {
	const all = ^int64(0) >> 1
	switch userID {
	case s.st.AppID:
		return s.st.BotPermissions
	case s.st.OwnerID:
		return all
	}
	p := everyonePermissions
	for _, id := range s.st.MemberRoles[userID] {
		if r := s.st.Roles[id]; r != nil {
			p |= r.Permissions
		}
	}
	if p&PermAdministrator != 0 {
		return all
	}
	return p
}

func (s *Server) _renderRole(r *role) map[string]any {
	return map[string]any{"id": r.ID, "name": r.Name, "permissions": strconv.FormatInt(r.Permissions, 10),
		"position": r.Position, "color": 0, "hoist": false, "managed": false, "mentionable": false, "flags": 0}
}

// _roles lists the guild's roles as Discord does: @everyone (whose ID is the
// guild's), the bot's managed role, then the others by position.
func (s *Server) _roles() []map[string]any {
	out := []map[string]any{
		{"id": s.st.GuildID, "name": "@everyone", "permissions": strconv.FormatInt(everyonePermissions, 10),
			"position": 0, "color": 0, "hoist": false, "managed": false, "mentionable": false, "flags": 0},
		{"id": s.st.BotRoleID, "name": "discofs", "permissions": strconv.FormatInt(s.st.BotPermissions, 10),
			"position": 1, "color": 0, "hoist": false, "managed": true, "mentionable": false, "flags": 0,
			"tags": map[string]any{"bot_id": s.st.AppID}},
	}
	rs := make([]*role, 0, len(s.st.Roles))
	for _, r := range s.st.Roles {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Position < rs[j].Position })
	for _, r := range rs {
		out = append(out, s._renderRole(r))
	}
	return out
}

// ctlRoles creates a role: {"name","permissions":[names]}. GUILD_ROLE_CREATE
// goes out on the gateway; the answer is the role.
func (s *Server) ctlRoles(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Name        string   `json:"name"`
		Permissions []string `json:"permissions"`
	}
	var out map[string]any
	err := s.ctlLocked(r, &body, func() error {
		if body.Name == "" {
			return ctlBad("name is required")
		}
		p, err := permBits(body.Permissions)
		if err != nil {
			return ctlBad(err.Error())
		}
		nr := &role{ID: s.st.newSnowflake(time.Now()), Name: body.Name, Permissions: p, Position: len(s.st.Roles) + 2}
		s.st.Roles[nr.ID] = nr
		out = s._renderRole(nr)
		s._emit("GUILD_ROLE_CREATE", intentGuilds, func(bool) any {
			return map[string]any{"guild_id": s.st.GuildID, "role": out}
		})
		return nil
	})
	if err != nil {
		return err
	}
	s.markDirty()
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ctlMembers replaces the roles a user holds: {"user_id","roles":[ids]}. The
// answer is the member with its roles and permissions.
func (s *Server) ctlMembers(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		UserID string   `json:"user_id"`
		Roles  []string `json:"roles"`
	}
	var out memberJSON
	err := s.ctlLocked(r, &body, func() error {
		switch {
		case s.st.Users[body.UserID] == nil || body.UserID == s.st.AppID:
			return ctlBad("unknown user_id (the bot's roles are set with /_emulator/permissions)")
		case slices.ContainsFunc(body.Roles, func(id string) bool { return s.st.Roles[id] == nil }):
			return ctlBad("unknown role in roles (@everyone and the bot's role cannot be given)")
		}
		s.st.MemberRoles[body.UserID] = slices.Compact(slices.Sorted(slices.Values(body.Roles)))
		out = s._renderMember(body.UserID, true)
		return nil
	})
	if err != nil {
		return err
	}
	s.markDirty()
	writeJSON(w, http.StatusOK, out)
	return nil
}
