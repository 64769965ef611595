package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// maxBodyBytes bounds every JSON request body.
const maxBodyBytes = 1 << 20

// decodeJSON reads exactly one JSON object into v. Unknown fields, trailing
// data, a wrong content type and oversized bodies are client errors.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	// Requiring application/json also makes every cross-origin write a
	// CORS-preflighted request, which this server never approves.
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return apiErr("unsupported_media_type")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return apiErr("body_too_large").saying(fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes))
	}
	if err != nil {
		return errBadJSON("The request body could not be read.")
	}
	// Only an object: a literal null (or any other value) would leave v at
	// its zero value and be taken as {} — an invite with no limits, say.
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && trimmed[0] != '{' {
		return errBadJSON("The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return errBadJSON("The request body is empty; send a JSON object.")
		case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
			return errBadJSON("The request body is not valid JSON.")
		case errors.As(err, &typ):
			return errBadJSON(fmt.Sprintf("The field %q has the wrong type.", typ.Field))
		default:
			return errBadJSON("The request body is not the expected JSON object: " + err.Error() + ".")
		}
	}
	if dec.More() {
		return errBadJSON("The request body holds more than one JSON value.")
	}
	return nil
}
