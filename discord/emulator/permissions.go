package emulator

import (
	"fmt"
	"sort"
	"strings"
)

// Discord permission bits the emulator checks.
const (
	PermCreateInstantInvite   int64 = 1 << 0
	PermAdministrator         int64 = 1 << 3
	PermManageChannels        int64 = 1 << 4
	PermAddReactions          int64 = 1 << 6
	PermViewChannel           int64 = 1 << 10
	PermSendMessages          int64 = 1 << 11
	PermManageMessages        int64 = 1 << 13
	PermEmbedLinks            int64 = 1 << 14
	PermAttachFiles           int64 = 1 << 15
	PermReadMessageHistory    int64 = 1 << 16
	PermMentionEveryone       int64 = 1 << 17
	PermManageWebhooks        int64 = 1 << 29
	PermUseApplicationCmds    int64 = 1 << 31
	PermManageThreads         int64 = 1 << 34
	PermCreatePublicThreads   int64 = 1 << 35
	PermCreatePrivateThreads  int64 = 1 << 36
	PermSendMessagesInThreads int64 = 1 << 38
)

// DefaultBotPermissions is what a vault bot is invited with: enough to run a
// vault channel, its threads and webhooks, without Administrator.
const DefaultBotPermissions = PermViewChannel | PermSendMessages | PermManageMessages |
	PermEmbedLinks | PermAttachFiles | PermReadMessageHistory | PermAddReactions |
	PermManageWebhooks | PermManageChannels | PermManageThreads | PermCreatePublicThreads |
	PermCreatePrivateThreads | PermSendMessagesInThreads | PermUseApplicationCmds

// everyonePermissions are the @everyone role's: what the member has.
const everyonePermissions = PermViewChannel | PermSendMessages | PermReadMessageHistory |
	PermAddReactions | PermEmbedLinks | PermAttachFiles | PermUseApplicationCmds |
	PermSendMessagesInThreads | PermCreatePublicThreads | PermCreateInstantInvite

var permNames = map[string]int64{
	"CREATE_INSTANT_INVITE":    PermCreateInstantInvite,
	"ADMINISTRATOR":            PermAdministrator,
	"MANAGE_CHANNELS":          PermManageChannels,
	"ADD_REACTIONS":            PermAddReactions,
	"VIEW_CHANNEL":             PermViewChannel,
	"SEND_MESSAGES":            PermSendMessages,
	"MANAGE_MESSAGES":          PermManageMessages,
	"EMBED_LINKS":              PermEmbedLinks,
	"ATTACH_FILES":             PermAttachFiles,
	"READ_MESSAGE_HISTORY":     PermReadMessageHistory,
	"MENTION_EVERYONE":         PermMentionEveryone,
	"MANAGE_WEBHOOKS":          PermManageWebhooks,
	"USE_APPLICATION_COMMANDS": PermUseApplicationCmds,
	"MANAGE_THREADS":           PermManageThreads,
	"CREATE_PUBLIC_THREADS":    PermCreatePublicThreads,
	"CREATE_PRIVATE_THREADS":   PermCreatePrivateThreads,
	"SEND_MESSAGES_IN_THREADS": PermSendMessagesInThreads,
}

// PermissionByName resolves a Discord permission name ("SEND_MESSAGES").
func PermissionByName(name string) (int64, error) {
	if p, ok := permNames[strings.ToUpper(name)]; ok {
		return p, nil
	}
	names := make([]string, 0, len(permNames))
	for n := range permNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown permission %q (known: %s)", name, strings.Join(names, ", "))
}

// permBits is the bitfield of the permissions names names, or the first unknown name's
// error.
func permBits(names []string) (int64, error) {
	var p int64
	for _, n := range names {
		bit, err := PermissionByName(n)
		if err != nil {
			return 0, err
		}
		p |= bit
	}
	return p, nil
}

// _botNeeds fails with 50001 when the bot cannot see channels and with
// 50013 when it lacks any of perms.
func (s *Server) _botNeeds(perms int64) error {
	p := s.st.BotPermissions
	if p&PermAdministrator != 0 {
		return nil
	}
	if p&PermViewChannel == 0 {
		return errMissingAccess()
	}
	if p&perms != perms {
		return errMissingPermissions()
	}
	return nil
}
