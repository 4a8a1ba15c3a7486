package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Key is one scalar configuration key: settable from the environment and with --set.
type Key struct {
	Path string // dotted YAML path, e.g. kafka.sasl.mechanism
	Env  string // environment variable, e.g. VIGIL_KAFKA_SASL_MECHANISM
	Type string // string, bool, int, duration, list (comma-separated)
}

// EnvName is the environment variable overriding a key path: VIGIL_ and the path in upper
// case with dots as underscores.
func EnvName(path string) string {
	return "VIGIL_" + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// Keys lists every scalar key (strings, numbers, booleans, durations and lists of strings) of
// the configuration, sorted. Lists of mappings (inputs, output.sinks), maps and the sections
// owned by other packages are not scalar: set them in the file.
func Keys() []Key {
	var out []Key
	var visit func(t reflect.Type, prefix string)
	visit = func(t reflect.Type, prefix string) {
		names := yamlFields(t)
		for name, f := range names {
			path := join(prefix, name)
			ft := f.Type
			if typ := scalarType(ft); typ != "" {
				out = append(out, Key{Path: path, Env: EnvName(path), Type: typ})
				continue
			}
			if ft.Kind() == reflect.Struct && ft != nodeType {
				visit(ft, path)
			}
		}
	}
	visit(reflect.TypeOf(Config{}), "")
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

var durationType = reflect.TypeOf(time.Duration(0))

func scalarType(t reflect.Type) string {
	if t == durationType {
		return "duration"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Int:
		return "int"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "list"
		}
	}
	return ""
}

// ApplyEnv sets every key whose VIGIL_* variable lookup finds with a non-empty value.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	var errs []string
	for _, k := range Keys() {
		if v, ok := lookup(k.Env); ok && v != "" {
			if err := c.Set(k.Path, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", k.Env, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Set assigns a scalar key from its text form: lists are comma-separated, durations as in
// time.ParseDuration, booleans as in strconv.ParseBool.
func (c *Config) Set(path, value string) error {
	v := reflect.ValueOf(c).Elem()
	parts := strings.Split(path, ".")
	for i, p := range parts {
		f, ok := yamlFields(v.Type())[p]
		if !ok {
			return fmt.Errorf("unknown key %s", strings.Join(parts[:i+1], "."))
		}
		v = v.FieldByIndex(f.Index)
		if i < len(parts)-1 && (v.Kind() != reflect.Struct || v.Type() == nodeType) {
			return fmt.Errorf("%s is not a section of scalar keys", strings.Join(parts[:i+1], "."))
		}
	}
	typ := scalarType(v.Type())
	if typ == "" {
		return fmt.Errorf("%s cannot be set from text: set it in the file", path)
	}
	switch typ {
	case "duration":
		d, err := time.ParseDuration(value)
		if err != nil {
			return fmt.Errorf("%s: %v", path, err)
		}
		v.SetInt(int64(d))
	case "string":
		v.SetString(value)
	case "int":
		n, err := strconv.Atoi(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not an integer", path, value)
		}
		v.SetInt(int64(n))
	case "bool":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("%s: %q is not a boolean (true or false)", path, value)
		}
		if v.Kind() == reflect.Pointer {
			v.Set(reflect.ValueOf(&b))
		} else {
			v.SetBool(b)
		}
	case "list":
		v.Set(reflect.ValueOf(SplitList(value)))
	}
	return nil
}

// SetAll applies "key=value" assignments (the --set flag) in order.
func (c *Config) SetAll(assignments []string) error {
	for _, a := range assignments {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("--set %q: want key=value", a)
		}
		if err := c.Set(strings.TrimSpace(k), v); err != nil {
			return fmt.Errorf("--set %s", err)
		}
	}
	return nil
}
