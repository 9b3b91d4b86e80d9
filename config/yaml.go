package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyYAML reads the configuration file's bytes into l.
//
// The file is decoded strictly, driven by the settings table rather than a parallel struct: it
// is parsed into a yaml.Node tree and every key is looked up in the table, so an unknown or
// misplaced key, a duplicate, a value of the wrong shape or type is reported with its key and
// line, and values go through the same parser as environment variables and flags. Settings are
// nested under their section (tokens: {access_ttl: 15m}); durations are strings such as 15m. An
// empty file, or one with only comments, sets nothing.
func (l *loader) applyYAML(data []byte, path string) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			l.problem(&FieldError{Field: configFlag, Source: path, Msg: fmt.Sprintf("%q is not valid YAML: %v", path, err)})
		}
		return
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		msg := "holds more than one YAML document (---): put every setting in one"
		if err != nil {
			msg = fmt.Sprintf("is not valid YAML: %v", err)
		}
		l.problem(&FieldError{Field: configFlag, Source: path, Msg: fmt.Sprintf("%q %s", path, msg)})
		return
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	root = resolveAlias(root)
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		l.problem(&FieldError{Field: configFlag, Source: lineOf(path, root),
			Msg: fmt.Sprintf("%q must hold a mapping of settings (listen: \":8080\" ...), not %s", path, shape(root))})
		return
	}
	l.walkMapping(root, "", path)
}

// walkMapping applies the settings of mapping m, whose keys are under prefix ("" or "tokens.").
func (l *loader) walkMapping(m *yaml.Node, prefix, path string) {
	seen := map[string]int{} // key -> line where it was first set
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolveAlias(m.Content[i]), m.Content[i+1]
		src := lineOf(path, k)
		field := strings.TrimSuffix(prefix, ".")
		if field == "" {
			field = configFlag
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			l.problem(&FieldError{Field: field, Source: src, Msg: "has a key in " + src + " that is not a plain name"})
			continue
		}
		if k.ShortTag() == "!!merge" {
			l.problem(&FieldError{Field: field, Source: src, Msg: "uses a merge key (<<) in " + src + ", which is not supported: write each setting out"})
			continue
		}
		full := prefix + k.Value
		if line, dup := seen[full]; dup {
			l.problem(&FieldError{Field: full, Source: src, Msg: fmt.Sprintf("is set twice, in %s and line %d: keep one", src, line)})
			continue
		}
		seen[full] = k.Line
		switch {
		case strings.Contains(k.Value, "."):
			l.problem(&FieldError{Field: full, Source: src, Msg: "in " + src + " is not a known key" + suggest(full, true)})
		case byKey[full] != nil:
			l.applyNode(byKey[full], v, src)
		case sections[full]:
			v = resolveAlias(v)
			switch {
			case isNull(v): // an empty section, e.g. all its settings commented out
			case v.Kind != yaml.MappingNode:
				l.problem(&FieldError{Field: full, Source: lineOf(path, v),
					Msg: fmt.Sprintf("in %s must be a mapping of settings (%s), not %s", lineOf(path, v), strings.Join(sectionKeys(full), ", "), shape(v))})
			default:
				l.walkMapping(v, full+".", path)
			}
		default:
			l.problem(&FieldError{Field: full, Source: src, Msg: "in " + src + " is not a known key" + suggest(full, false)})
		}
	}
}

// applyNode checks that v is a single value of the right YAML type for s and applies it.
func (l *loader) applyNode(s *setting, v *yaml.Node, src string) {
	v = resolveAlias(v)
	bad := func(shown, what string) {
		fe := &FieldError{Field: s.key, Source: src, Msg: "in " + src + " " + what}
		if shown != "" {
			fe = newFieldError(s.key, src, shown, what)
		}
		l.problem(fe)
		l.failed[s.key] = true
	}
	switch {
	case v.Kind != yaml.ScalarNode:
		bad("", fmt.Sprintf("must be a single %s, not %s", s.kind(), shape(v)))
		return
	case isNull(v):
		hint := "give one, or remove the key to keep the default"
		if !s.secret && s.def != "" {
			hint += " " + s.def
		}
		bad("", "has no value: "+hint)
		return
	}
	tag := v.ShortTag()
	switch {
	case !strings.HasPrefix(tag, "!!") || tag == "!!binary":
		bad("", fmt.Sprintf("has the YAML tag %q, which no setting takes", tag))
		return
	case s.kind() == "int" && tag == "!!str":
		bad(s.display(v.Value), "is quoted text, not a whole number: remove the quotes")
		return
	case s.kind() == "int" && tag != "!!int":
		bad(s.display(v.Value), errNotInt.Error())
		return
	}
	l.apply(s, v.Value, src)
}

// resolveAlias follows an alias (*name) to the node it names.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// shape names a node's kind for messages, never its content.
func shape(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	default:
		return "an alias"
	}
}

func lineOf(path string, n *yaml.Node) string { return fmt.Sprintf("%s line %d", path, n.Line) }

// sectionKeys lists the setting names inside section sec, for messages.
func sectionKeys(sec string) []string {
	var out []string
	for _, s := range settings {
		if name, ok := strings.CutPrefix(s.key, sec+"."); ok {
			out = append(out, name)
		}
	}
	return out
}

// suggest returns " (did you mean KEY?)" naming the known key closest to an unknown one, or
// "" when none is close: a dash for an underscore, a different case, the right name in the
// wrong section, or a typo of one or two letters. flat means the key was written with a dot
// (tokens.access_ttl: at the top) instead of nested under its section.
func suggest(unknown string, flat bool) string {
	norm := strings.ToLower(strings.ReplaceAll(unknown, "-", "_"))
	if s := byKey[norm]; s != nil {
		if flat {
			sec, name, _ := strings.Cut(s.key, ".")
			return fmt.Sprintf(" (nest it: %s: {%s: ...})", sec, name)
		}
		return fmt.Sprintf(" (did you mean %s?)", s.key)
	}
	last := norm[strings.LastIndexByte(norm, '.')+1:]
	for _, s := range settings {
		if s.key[strings.LastIndexByte(s.key, '.')+1:] == last {
			return fmt.Sprintf(" (did you mean %s?)", s.key)
		}
	}
	best, bestDist := "", 3
	for _, s := range settings {
		if d := levenshtein(norm, s.key); d < bestDist {
			best, bestDist = s.key, d
		}
	}
	for _, s := range settings {
		if sec, _, ok := strings.Cut(s.key, "."); ok {
			if d := levenshtein(norm, sec); d < bestDist {
				best, bestDist = sec, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// levenshtein is the edit distance between a and b, counted in bytes.
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
