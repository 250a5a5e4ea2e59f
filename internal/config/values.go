package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// set parses raw into v, which has the field's type. The error text is the
// problem alone; the caller adds file, section and key.
func (f *field) set(v reflect.Value, raw string) error {
	switch f.kind {
	case kindString:
		v.SetString(raw)
	case kindBool:
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case kindInt:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			return numError(err, raw, "an integer")
		}
		v.SetInt(n)
	case kindUint:
		n, err := strconv.ParseUint(raw, 10, v.Type().Bits())
		if err != nil {
			return numError(err, raw, "a non-negative integer")
		}
		v.SetUint(n)
	case kindFloat:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return fmt.Errorf("not a number: %q", raw)
		}
		v.SetFloat(n)
	case kindDuration:
		d, err := f.parseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case kindList:
		v.Set(reflect.ValueOf(splitList(raw, f.sep)).Convert(v.Type()))
	}
	return nil
}

func numError(err error, raw, want string) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("out of range: %q", raw)
	}
	return fmt.Errorf("not %s: %q", want, raw)
}

func parseBool(raw string) (bool, error) {
	switch strings.ToLower(raw) {
	case "true", "1", "yes", "on":
		return true, nil
	case "false", "0", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a bool: %q (want true/false, yes/no, on/off or 1/0)", raw)
}

// parseDuration reads a bare number in the field's unit, because the
// original files held plain integers, and otherwise a Go duration.
func (f *field) parseDuration(raw string) (time.Duration, error) {
	if f.unit != 0 {
		if n, err := strconv.ParseFloat(raw, 64); err == nil {
			d := n * float64(f.unit)
			if math.IsNaN(d) || d >= math.MaxInt64 || d < math.MinInt64 {
				return 0, fmt.Errorf("out of range: %q", raw)
			}
			return time.Duration(d), nil
		}
	}
	d, err := time.ParseDuration(raw)
	if err == nil {
		return d, nil
	}
	switch f.unitName {
	case "s":
		return 0, fmt.Errorf("bad duration %q: want seconds (e.g. 3) or a Go duration (e.g. 1500ms, 2s)", raw)
	case "ms":
		return 0, fmt.Errorf("bad duration %q: want milliseconds (e.g. 500) or a Go duration (e.g. 500ms, 1s)", raw)
	}
	return 0, fmt.Errorf("bad duration %q: want a Go duration (e.g. 1500ms, 2s)", raw)
}

// splitList splits on any character of sep and drops empty items, so
// "a.%b.," and "a., b." both give two items.
func splitList(raw, sep string) []string {
	var out []string
	for _, item := range strings.FieldsFunc(raw, func(r rune) bool { return strings.ContainsRune(sep, r) }) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
