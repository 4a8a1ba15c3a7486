package rules

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"gopkg.in/yaml.v3"
)

// DecodeStrict decodes YAML data into v, rejecting keys v has no field for.
func DecodeStrict(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// DecodeNodeStrict decodes n into v as DecodeStrict does. n is re-encoded first, so yaml's line
// numbers would count from n: the error's message carries none, and callers position it at n.
func DecodeNodeStrict(n *yaml.Node, v any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	if err := DecodeStrict(data, v); err != nil {
		msg := YAMLMessage(err)
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
		return errors.New(msg)
	}
	return nil
}

// YAMLMessage is a yaml.v3 error's first message, without Go type names.
func YAMLMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	if i := strings.Index(msg, " in type "); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
