package node

import (
	"fmt"
	"log/slog"
	"strings"
)

// badgerLogger adapts Badger's printf-style logger to slog. Badger's info
// lines (compactions, replays) are routine, so they go to debug.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) msg(format string, args []any) string {
	return strings.TrimSpace(fmt.Sprintf(format, args...))
}
func (b badgerLogger) Errorf(f string, a ...any)   { b.l.Error(b.msg(f, a)) }
func (b badgerLogger) Warningf(f string, a ...any) { b.l.Warn(b.msg(f, a)) }
func (b badgerLogger) Infof(f string, a ...any)    { b.l.Debug(b.msg(f, a)) }
func (b badgerLogger) Debugf(f string, a ...any)   { b.l.Debug(b.msg(f, a)) }
