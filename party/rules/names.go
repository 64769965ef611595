package rules

import (
	"strings"

	"github.com/chatterbox/chatterbox/identity/member"
)

// Fingerprint is the short form of a member id ("" if it is not a key).
func Fingerprint(memberID string) string {
	key, err := MemberKey(memberID)
	if err != nil {
		return ""
	}
	return member.Fingerprint(key)
}

// Label is how a member is named to users: their display name, made
// unique with the start of their Fingerprint when another member of the
// party carries the same name (compared case-insensitively), as Matrix
// does, so a newcomer cannot pose as someone by taking their name.
func Label(st *State, memberID, name string) string {
	for _, m := range st.Members {
		if m.ID != memberID && strings.EqualFold(m.Name, name) {
			fp := Fingerprint(memberID)
			if i := strings.IndexByte(fp, '-'); i > 0 {
				fp = fp[:i]
			}
			return name + " (" + fp + ")"
		}
	}
	return name
}
