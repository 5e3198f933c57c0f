package emulator

import (
	"net/http"
	"time"
)

// A click on a button is an interaction of type 3 on the clicked message. Its
// response is a new message (callbacks 4 and 5, as for commands) or the
// clicked message itself (6 and 7), followed through its edits.

// _newClick creates a click by userID on the button customID of m and
// dispatches INTERACTION_CREATE.
func (s *Server) _newClick(m *message, customID, userID string, now time.Time) *interaction {
	i := s._registerInteraction(itComponent, userID, m.ChannelID, now)
	i.messageID, i.customID = m.ID, customID
	s._dispatchInteraction(i, map[string]any{"custom_id": customID, "component_type": compButton}, m)
	return i
}

// updateClicked answers a click with 6 (DEFERRED_UPDATE_MESSAGE: nothing
// visible yet) or 7 (UPDATE_MESSAGE: the clicked message is edited now).
// Either way the clicked message becomes the response, @original of the
// click's token.
func (s *Server) updateClicked(w http.ResponseWriter, i *interaction, cbType int, body messageBody, files []upload) error {
	s.mu.Lock()
	m := s._anyMessage(i.messageID)
	if m == nil {
		i.acked = false
		s.mu.Unlock()
		return errUnknownMessage()
	}
	i.follows, i.originalID = true, m.ID
	if cbType == cbDeferredUpdate {
		i._touch(m)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	var err error
	if m.Flags&flagEphemeral != 0 {
		err = s._editEphemeral(m, body)
		s.mu.Unlock()
	} else {
		s.mu.Unlock()
		_, err = s.edit(m.ChannelID, m.ID, "", body, files)
	}
	if err != nil {
		s.mu.Lock()
		i.acked, i.follows, i.originalID = false, false, ""
		s.mu.Unlock()
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// _anyMessage finds a message in a channel or an ephemeral response.
func (s *Server) _anyMessage(id string) *message {
	if m := s.st.Messages[id]; m != nil {
		return m
	}
	for _, i := range s.interactions {
		if m := i.eph[id]; m != nil {
			return m
		}
	}
	return nil
}

// _messageChanged wakes the clicks whose response is m.
func (s *Server) _messageChanged(m *message) {
	for _, i := range s.interactions {
		if i.follows && i.messageID == m.ID {
			i._touch(m)
		}
	}
}
