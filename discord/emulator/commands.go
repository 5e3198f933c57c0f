package emulator

import (
	"net/http"
	"regexp"
	"time"
)

var commandName = regexp.MustCompile(`^[-_\p{L}\p{N}]{1,32}$`)

type commandBody struct {
	Name        string `json:"name"`
	Type        int    `json:"type"`
	Description string `json:"description"`
	Options     []any  `json:"options"`
}

func (b *commandBody) validate(path ...string) error {
	if b.Type == 0 {
		b.Type = 1
	}
	if b.Type == 1 && !commandName.MatchString(b.Name) {
		return formError(append(path, "name"), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
	}
	if b.Type == 1 && (chars(b.Description) < 1 || chars(b.Description) > 100) {
		return formError(append(path, "description"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
	}
	return nil
}

// _commandScope checks the path's application (and guild) and returns the
// guild ID of the scope ("" for global commands).
func (s *Server) _commandScope(r *http.Request) (string, error) {
	if r.PathValue("app_id") != s.st.AppID {
		return "", &apiError{Status: 403, Code: 50001, Message: "Missing Access"}
	}
	g := r.PathValue("guild_id")
	if g != "" && g != s.st.GuildID {
		return "", &apiError{Status: 404, Code: CodeUnknownGuild, Message: "Unknown Guild"}
	}
	return g, nil
}

func (s *Server) _renderCommand(c *command) map[string]any {
	out := map[string]any{
		"id": c.ID, "application_id": s.st.AppID, "version": c.Version, "default_member_permissions": nil,
		"type": c.Type, "name": c.Name, "description": c.Description, "dm_permission": true, "nsfw": false,
	}
	if c.GuildID != "" {
		out["guild_id"] = c.GuildID
	}
	if len(c.Options) > 0 {
		out["options"] = c.Options
	}
	return out
}

func (s *Server) _commandsIn(scope string) []*command {
	var out []*command
	for _, c := range s.st.Commands {
		if c.GuildID == scope {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, err := s._commandScope(r)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for _, c := range s._commandsIn(scope) {
		out = append(out, s._renderCommand(c))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// overwriteCommands is the bulk overwrite (PUT): the scope's commands become
// exactly the body's, keeping the IDs of names that stay.
func (s *Server) overwriteCommands(w http.ResponseWriter, r *http.Request) error {
	var body []commandBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	for i := range body {
		if err := body[i].validate(itoa(i)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, err := s._commandScope(r)
	if err != nil {
		return err
	}
	old := map[string]*command{}
	for _, c := range s._commandsIn(scope) {
		old[c.Name] = c
		delete(s.st.Commands, c.ID)
	}
	now := time.Now()
	out := []map[string]any{}
	for _, b := range body {
		c := s._putCommand(scope, b, old[b.Name], now)
		out = append(out, s._renderCommand(c))
	}
	s.markDirty()
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) _putCommand(scope string, b commandBody, prev *command, now time.Time) *command {
	c := &command{ID: s.st.newSnowflake(now), GuildID: scope, Name: b.Name, Type: b.Type,
		Description: b.Description, Options: b.Options}
	if prev != nil {
		c.ID = prev.ID
	}
	c.Version = s.st.newSnowflake(now)
	s.st.Commands[c.ID] = c
	return c
}

func (s *Server) createCommand(w http.ResponseWriter, r *http.Request) error {
	var body commandBody
	if err := decodeJSON(r, &body); err != nil {
		return err
	}
	if err := body.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, err := s._commandScope(r)
	if err != nil {
		return err
	}
	var prev *command
	for _, c := range s._commandsIn(scope) {
		if c.Name == body.Name {
			prev = c
		}
	}
	status := http.StatusCreated
	if prev != nil {
		status = http.StatusOK
	}
	c := s._putCommand(scope, body, prev, time.Now())
	s.markDirty()
	writeJSON(w, status, s._renderCommand(c))
	return nil
}

func (s *Server) _command(r *http.Request) (*command, error) {
	scope, err := s._commandScope(r)
	if err != nil {
		return nil, err
	}
	c := s.st.Commands[r.PathValue("command_id")]
	if c == nil || c.GuildID != scope {
		return nil, &apiError{Status: 404, Code: CodeUnknownCommand, Message: "Unknown application command"}
	}
	return c, nil
}

func (s *Server) getCommand(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._command(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, s._renderCommand(c))
	return nil
}

func (s *Server) deleteCommand(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s._command(r)
	if err != nil {
		return err
	}
	delete(s.st.Commands, c.ID)
	s.markDirty()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// _findCommand finds a command by name, the guild's before the global one.
func (s *Server) _findCommand(name string) *command {
	var global *command
	for _, c := range s.st.Commands {
		if c.Name == name && c.Type == 1 {
			if c.GuildID == s.st.GuildID {
				return c
			}
			global = c
		}
	}
	return global
}
