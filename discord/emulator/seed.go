package emulator

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// seedFile is the shape of a v3.1 discord-state.json: the vault channel's
// archive cards, each with its thread of one-attachment chunk messages
// whose bytes are at path, relative to the seed file.
type seedFile struct {
	GuildID   string `json:"guild_id"`
	ChannelID string `json:"archive_channel_id"`
	Archives  []struct {
		Card struct {
			ID        string  `json:"id"`
			ChannelID string  `json:"channel_id"`
			Content   string  `json:"content"`
			Embeds    []embed `json:"embeds"`
			Pinned    bool    `json:"pinned"`
		} `json:"card"`
		Thread *struct {
			ID                  string `json:"id"`
			Name                string `json:"name"`
			ParentID            string `json:"parent_id"`
			AutoArchiveDuration int    `json:"auto_archive_duration"`
			Archived            bool   `json:"archived"`
		} `json:"thread"`
		ThreadMessages []struct {
			ID          string `json:"id"`
			Content     string `json:"content"`
			Attachments []struct {
				Filename string `json:"filename"`
				Size     int64  `json:"size"`
				Path     string `json:"path"`
			} `json:"attachments"`
		} `json:"thread_messages"`
	} `json:"archives"`
}

// loadSeed replaces the fresh guild and channel IDs with the seed's and
// loads its messages, authored by the bot as v3.1's bot wrote them.
func (s *Server) loadSeed(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("emulator seed: %w", err)
	}
	var sf seedFile
	if err := json.Unmarshal(raw, &sf); err != nil {
		return fmt.Errorf("emulator seed %s: %w", path, err)
	}
	if sf.GuildID == "" || sf.ChannelID == "" {
		return fmt.Errorf("emulator seed %s: guild_id and archive_channel_id are required", path)
	}
	base := filepath.Dir(path)
	st := s.st
	s.mu.Lock()
	defer s.mu.Unlock()
	vault := st.Channels[st.ChannelID]
	delete(st.Channels, st.ChannelID)
	vault.ID = sf.ChannelID
	st.GuildID, st.ChannelID = sf.GuildID, sf.ChannelID
	st.Channels[vault.ID] = vault
	for _, id := range []string{sf.GuildID, sf.ChannelID} {
		st.noteSnowflake(id)
	}
	for _, a := range sf.Archives {
		card := a.Card
		if card.ChannelID == "" {
			card.ChannelID = sf.ChannelID
		}
		if st.Channels[card.ChannelID] == nil {
			return fmt.Errorf("emulator seed: card %s is in unknown channel %s", card.ID, card.ChannelID)
		}
		st.noteSnowflake(card.ID)
		st.addMessage(&message{ID: card.ID, ChannelID: card.ChannelID, AuthorID: st.AppID, Content: card.Content,
			Embeds: card.Embeds, Pinned: card.Pinned, Timestamp: snowflakeTime(card.ID)})
		st.Channels[card.ChannelID].LastMsgID = card.ID
		if a.Thread == nil {
			continue
		}
		t := a.Thread
		if t.ParentID == "" {
			t.ParentID = card.ChannelID
		}
		if t.AutoArchiveDuration == 0 {
			t.AutoArchiveDuration = 1440
		}
		st.noteSnowflake(t.ID)
		created := snowflakeTime(t.ID)
		th := &channel{ID: t.ID, Type: chanPublicThread, Name: t.Name, ParentID: t.ParentID, OwnerID: st.AppID,
			Created: created, Activity: created, AutoMin: t.AutoArchiveDuration, Archived: t.Archived}
		if t.Archived {
			th.ArchivedAt = created.Add(time.Duration(t.AutoArchiveDuration) * time.Minute)
		} else {
			th.Activity = time.Now()
		}
		st.Channels[th.ID] = th
		if m := st.Messages[t.ID]; m != nil {
			m.Flags |= flagHasThread
		}
		for n, tm := range a.ThreadMessages {
			st.noteSnowflake(tm.ID)
			m := &message{ID: tm.ID, ChannelID: th.ID, AuthorID: st.AppID, Content: tm.Content,
				Timestamp: snowflakeTime(tm.ID), Position: intPtr(n)}
			for _, at := range tm.Attachments {
				data, err := os.ReadFile(filepath.Join(base, filepath.FromSlash(at.Path)))
				if err != nil {
					return fmt.Errorf("emulator seed: message %s: %w", tm.ID, err)
				}
				if at.Size != 0 && at.Size != int64(len(data)) {
					return fmt.Errorf("emulator seed: %s has %d bytes, the seed says %d", at.Path, len(data), at.Size)
				}
				id := st.newSnowflake(time.Now())
				if err := s.blobs.put(id, data); err != nil {
					return fmt.Errorf("emulator seed: %w", err)
				}
				m.Attachments = append(m.Attachments, attachment{ID: id, Filename: at.Filename, Size: int64(len(data))})
			}
			st.addMessage(m)
			th.MsgCount++
			th.TotalSent++
			th.LastMsgID = m.ID
		}
	}
	return nil
}
