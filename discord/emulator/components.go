package emulator

import (
	"encoding/json"
	"slices"
	"strconv"
)

// Component types and button styles the emulator knows.
const (
	compActionRow = 1
	compButton    = 2
	styleLink     = 5
	stylePremium  = 6
)

// Discord's limits on message components.
const (
	maxActionRows    = 5
	maxRowButtons    = 5
	maxCustomID      = 100
	maxButtonLabel   = 80
	componentsFields = "components"
)

// component is an action row or a button, as sent and returned. Other
// component types are refused, so a test never relies on one the emulator
// would only pretend to keep.
type component struct {
	Type       int             `json:"type"`
	ID         int             `json:"id,omitempty"`
	Style      int             `json:"style,omitempty"`
	Label      string          `json:"label,omitempty"`
	Emoji      json.RawMessage `json:"emoji,omitempty"`
	CustomID   string          `json:"custom_id,omitempty"`
	URL        string          `json:"url,omitempty"`
	SKUID      string          `json:"sku_id,omitempty"`
	Disabled   bool            `json:"disabled,omitempty"`
	Components []component     `json:"components,omitempty"`
}

// validateComponents enforces Discord's rules for a message's top-level
// components: at most 5 action rows of 1–5 buttons, a custom_id (1–100
// characters, unique in the message) on every button but link and premium
// ones, a url on link buttons only, labels of at most 80 characters.
func validateComponents(cs []component) error {
	if len(cs) > maxActionRows {
		return errMaxLength(maxActionRows, componentsFields)
	}
	seen := map[string]bool{}
	for r, row := range cs {
		rp := []string{componentsFields, strconv.Itoa(r)}
		if row.Type != compActionRow {
			return formError(rp, "UNION_TYPE_CHOICES", "The emulator keeps action rows (type 1) of buttons only; got type "+strconv.Itoa(row.Type)+".")
		}
		if len(row.Components) == 0 {
			return formError(append(rp, componentsFields), "BASE_TYPE_REQUIRED", "This field is required")
		}
		if len(row.Components) > maxRowButtons {
			return errMaxLength(maxRowButtons, append(rp, componentsFields)...)
		}
		for b, btn := range row.Components {
			bp := append(slices.Clone(rp), componentsFields, strconv.Itoa(b))
			if btn.Type != compButton {
				return formError(bp, "UNION_TYPE_CHOICES", "The emulator keeps buttons (type 2) in action rows only; got type "+strconv.Itoa(btn.Type)+".")
			}
			if btn.Style < 1 || btn.Style > stylePremium {
				return formError(append(bp, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
			}
			if chars(btn.Label) > maxButtonLabel {
				return errMaxLength(maxButtonLabel, append(bp, "label")...)
			}
			switch btn.Style {
			case styleLink:
				if btn.URL == "" {
					return formError(append(bp, "url"), "BUTTON_COMPONENT_URL_REQUIRED", "A url is required")
				}
				if btn.CustomID != "" {
					return formError(append(bp, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED", "A custom id cannot be specified")
				}
				continue
			case stylePremium:
				continue
			}
			if btn.URL != "" {
				return formError(append(bp, "url"), "BUTTON_COMPONENT_URL_NOT_ALLOWED", "A url cannot be specified")
			}
			if btn.CustomID == "" {
				return formError(append(bp, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_REQUIRED", "A custom id is required")
			}
			if chars(btn.CustomID) > maxCustomID {
				return errMaxLength(maxCustomID, append(bp, "custom_id")...)
			}
			if seen[btn.CustomID] {
				return formError(append(bp, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated")
			}
			seen[btn.CustomID] = true
		}
	}
	return nil
}

// numberComponents copies cs and gives every component without an id the
// next free one, depth first, as Discord does.
func numberComponents(cs []component) []component {
	used := map[int]bool{}
	var walk func([]component)
	walk = func(cs []component) {
		for _, c := range cs {
			used[c.ID] = true
			walk(c.Components)
		}
	}
	walk(cs)
	next := 1
	var fill func([]component) []component
	fill = func(cs []component) []component {
		if cs == nil {
			return nil
		}
		out := make([]component, len(cs))
		for i, c := range cs {
			if c.ID == 0 {
				for used[next] {
					next++
				}
				c.ID = next
				used[next] = true
			}
			c.Components = fill(c.Components)
			out[i] = c
		}
		return out
	}
	return fill(cs)
}

// findButton finds the button with customID among a message's components.
func findButton(cs []component, customID string) *component {
	for i := range cs {
		if cs[i].Type == compButton && cs[i].CustomID == customID {
			return &cs[i]
		}
		if b := findButton(cs[i].Components, customID); b != nil {
			return b
		}
	}
	return nil
}
