package gateway

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

//go:generate go run ./apigen

// ErrorsTS renders the error table as the web app's TypeScript module
// (web/src/api/errors.gen.ts): the union of codes, and each code's status
// and sentence. TestGeneratedFilesAreCurrent fails when the file drifts.
func ErrorsTS() []byte {
	codes := make([]string, 0, len(errorTable))
	for c := range errorTable {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var b bytes.Buffer
	b.WriteString("// Generated from gateway/errors.go by `go generate ./gateway`. Do not edit.\n\n")
	b.WriteString("export type ErrorCode =\n")
	for i, c := range codes {
		sep := ""
		if i == len(codes)-1 {
			sep = ";"
		}
		fmt.Fprintf(&b, "  | %s%s\n", strconv.Quote(c), sep)
	}
	b.WriteString("\n/** Each error code's HTTP status and the sentence a user is shown. */\n")
	b.WriteString("export const errorTable: Record<ErrorCode, { status: number; message: string }> = {\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "  %s: { status: %d, message: %s },\n", c, errorTable[c].Status, strconv.Quote(errorTable[c].Message))
	}
	b.WriteString("};\n")
	return b.Bytes()
}
