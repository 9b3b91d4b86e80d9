package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// millis is t as unix milliseconds, NULL for the zero time.
func millis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// fromMillis is the UTC time of unix milliseconds ms, the zero time for NULL.
func fromMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// blob is nil for an empty b: empty byte strings are stored as NULL and read back as nil.
func blob(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// encodeList is s as a JSON array.
func encodeList(s []string) (string, error) {
	if len(s) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encoding a list: %w", err)
	}
	return string(b), nil
}

// decodeList reads a JSON array, nil when empty.
func decodeList(text string) ([]string, error) {
	var s []string
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return nil, fmt.Errorf("decoding a stored list: %w", err)
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}

// encodeMap is m as a JSON object.
func encodeMap(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding a map: %w", err)
	}
	return string(b), nil
}

// decodeMap reads a JSON object, nil when empty.
func decodeMap(text string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return nil, fmt.Errorf("decoding a stored map: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
