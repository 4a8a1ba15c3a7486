package stream

import (
	"bytes"
	"encoding/json"

	"github.com/vigil-detect/vigil/alert"
)

// encodeAlert renders an alert as compact JSON without HTML escaping (command lines keep their
// '<' and '&').
func encodeAlert(a *alert.Alert) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
