package emulator

import (
	"strconv"
	"unicode/utf8"
)

// embed is a rich embed as sent and returned; only the parts that count
// towards Discord's limits are typed.
type embed struct {
	Type        string        `json:"type,omitempty"`
	Title       string        `json:"title,omitempty"`
	Description string        `json:"description,omitempty"`
	URL         string        `json:"url,omitempty"`
	Timestamp   string        `json:"timestamp,omitempty"`
	Color       *int          `json:"color,omitempty"`
	Footer      *embedFooter  `json:"footer,omitempty"`
	Image       *embedMedia   `json:"image,omitempty"`
	Thumbnail   *embedMedia   `json:"thumbnail,omitempty"`
	Author      *embedAuthor  `json:"author,omitempty"`
	Fields      []*embedField `json:"fields,omitempty"`
}

type embedFooter struct {
	Text    string `json:"text"`
	IconURL string `json:"icon_url,omitempty"`
}

type embedMedia struct {
	URL    string `json:"url"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

type embedAuthor struct {
	Name    string `json:"name"`
	URL     string `json:"url,omitempty"`
	IconURL string `json:"icon_url,omitempty"`
}

type embedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

// Discord's embed limits, in characters.
const (
	maxEmbeds           = 10
	maxEmbedTotal       = 6000
	maxEmbedTitle       = 256
	maxEmbedDescription = 4096
	maxEmbedFields      = 25
	maxFieldName        = 256
	maxFieldValue       = 1024
	maxFooterText       = 2048
	maxAuthorName       = 256
)

func chars(s string) int { return utf8.RuneCountInString(s) }

// validateEmbeds enforces Discord's embed limits and defaults the type to
// "rich", answering 50035 Invalid Form Body at the offending path.
func validateEmbeds(es []embed) error {
	if len(es) > maxEmbeds {
		return errMaxLength(maxEmbeds, "embeds")
	}
	total := 0
	for i := range es {
		e := &es[i]
		if e.Type == "" {
			e.Type = "rich"
		}
		idx := strconv.Itoa(i)
		if n := chars(e.Title); n > maxEmbedTitle {
			return errMaxLength(maxEmbedTitle, "embeds", idx, "title")
		}
		if n := chars(e.Description); n > maxEmbedDescription {
			return errMaxLength(maxEmbedDescription, "embeds", idx, "description")
		}
		if len(e.Fields) > maxEmbedFields {
			return errMaxLength(maxEmbedFields, "embeds", idx, "fields")
		}
		total += chars(e.Title) + chars(e.Description)
		for j, f := range e.Fields {
			if f == nil {
				return formError([]string{"embeds", idx, "fields", strconv.Itoa(j)}, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
			}
			jdx := strconv.Itoa(j)
			if f.Name == "" {
				return formError([]string{"embeds", idx, "fields", jdx, "name"}, "BASE_TYPE_REQUIRED", "This field is required")
			}
			if f.Value == "" {
				return formError([]string{"embeds", idx, "fields", jdx, "value"}, "BASE_TYPE_REQUIRED", "This field is required")
			}
			if chars(f.Name) > maxFieldName {
				return errMaxLength(maxFieldName, "embeds", idx, "fields", jdx, "name")
			}
			if chars(f.Value) > maxFieldValue {
				return errMaxLength(maxFieldValue, "embeds", idx, "fields", jdx, "value")
			}
			total += chars(f.Name) + chars(f.Value)
		}
		if e.Footer != nil {
			if chars(e.Footer.Text) > maxFooterText {
				return errMaxLength(maxFooterText, "embeds", idx, "footer", "text")
			}
			total += chars(e.Footer.Text)
		}
		if e.Author != nil {
			if chars(e.Author.Name) > maxAuthorName {
				return errMaxLength(maxAuthorName, "embeds", idx, "author", "name")
			}
			total += chars(e.Author.Name)
		}
	}
	if total > maxEmbedTotal {
		return formError([]string{"embeds"}, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
	}
	return nil
}
