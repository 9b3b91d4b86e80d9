package redis

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScriptKeys: every key a script touches is one of its KEYS, so that Cluster routes the
// script to the node that holds them. A key the script built itself (a prefix .. an id) would
// name a key Cluster was not told of; since all KEYS of a call share a hash tag (Cluster itself
// refuses other calls with CROSSSLOT, see TestConformanceCluster), the key arguments of every
// redis.call must be KEYS[...] references.
func TestScriptKeys(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("scripts", "*.lua"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts found: %v", err)
	}
	// Commands whose every argument is a key; for the others only the first is.
	allKeys := map[string]bool{"DEL": true, "UNLINK": true, "EXISTS": true, "MGET": true, "TOUCH": true}
	// Commands that take no key at all.
	keyless := map[string]bool{"TIME": true}
	// Commands whose first argument is a pub/sub channel, not a key: in no slot (a Cluster
	// broadcasts PUBLISH to every node). The channel comes from Go in ARGV, like key names do.
	channelFirst := map[string]bool{"PUBLISH": true}
	argRef := regexp.MustCompile(`^ARGV\[[A-Za-z0-9_+\- ]+\]$`)
	keyRef := regexp.MustCompile(`^KEYS\[[A-Za-z0-9_+\- ]+\]$`)
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		calls := redisCalls(stripComments(string(src)))
		if len(calls) == 0 {
			t.Errorf("%s: no redis.call found", file)
		}
		for _, args := range calls {
			if len(args) == 1 && keyless[strings.ToUpper(strings.Trim(args[0], `'"`))] {
				continue
			}
			if len(args) >= 2 && channelFirst[strings.ToUpper(strings.Trim(args[0], `'"`))] {
				if !argRef.MatchString(args[1]) {
					t.Errorf("%s: redis.call(%s): channel %q is not one of ARGV", file, strings.Join(args, ", "), args[1])
				}
				continue
			}
			if len(args) < 2 {
				t.Errorf("%s: redis.call(%s) names no key", file, strings.Join(args, ", "))
				continue
			}
			cmd := strings.ToUpper(strings.Trim(args[0], `'"`))
			keys := args[1:2]
			if allKeys[cmd] {
				keys = args[1:]
			}
			for _, k := range keys {
				if !keyRef.MatchString(k) {
					t.Errorf("%s: redis.call(%s): key %q is not one of KEYS", file, strings.Join(args, ", "), k)
				}
			}
		}
	}
}

func stripComments(src string) string {
	var b strings.Builder
	for line := range strings.Lines(src) {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

// redisCalls returns the argument lists (as source text, trimmed) of every redis.call and
// redis.pcall in src, splitting on the commas at the call's own parenthesis depth.
func redisCalls(src string) [][]string {
	var calls [][]string
	for _, start := range regexp.MustCompile(`redis\.p?call\s*\(`).FindAllStringIndex(src, -1) {
		var args []string
		depth, from := 0, start[1]
	scan:
		for i := start[1]; i < len(src); i++ {
			switch src[i] {
			case '(', '{', '[':
				depth++
			case ')', '}', ']':
				if depth == 0 {
					args = append(args, strings.TrimSpace(src[from:i]))
					break scan
				}
				depth--
			case ',':
				if depth == 0 {
					args = append(args, strings.TrimSpace(src[from:i]))
					from = i + 1
				}
			}
		}
		calls = append(calls, args)
	}
	return calls
}
