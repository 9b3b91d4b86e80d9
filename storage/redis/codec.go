package redis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Values are stored as strings; an empty string stands for the zero time, a nil or empty list,
// map or byte slice.

func encTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

func decTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redis: bad stored time %q", s)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// ms is t in unix milliseconds, for expiry arguments (a zero t is not expected here).
func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func encStrings(v []string) string {
	if len(v) == 0 {
		return ""
	}
	b, _ := json.Marshal(v) // a []string always marshals
	return string(b)
}

func decStrings(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("redis: bad stored list: %w", err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

func encMap(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

func decMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("redis: bad stored map: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}

func decBytes(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

// fields reads a flat [field, value, field, value...] script reply into a map.
func fields(reply []any) (map[string]string, error) {
	if len(reply)%2 != 0 {
		return nil, fmt.Errorf("redis: odd field list of %d items", len(reply))
	}
	m := make(map[string]string, len(reply)/2)
	for i := 0; i < len(reply); i += 2 {
		k, ok1 := reply[i].(string)
		v, ok2 := reply[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("redis: unexpected field list item types %T, %T", reply[i], reply[i+1])
		}
		m[k] = v
	}
	return m, nil
}

// decoder collects the first error of a series of field decodings.
type decoder struct {
	m   map[string]string
	err error
}

func (d *decoder) time(field string) time.Time {
	t, err := decTime(d.m[field])
	if d.err == nil {
		d.err = err
	}
	return t
}

func (d *decoder) strings(field string) []string {
	v, err := decStrings(d.m[field])
	if d.err == nil {
		d.err = err
	}
	return v
}

func (d *decoder) claims(field string) map[string]string {
	v, err := decMap(d.m[field])
	if d.err == nil {
		d.err = err
	}
	return v
}
