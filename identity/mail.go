package identity

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"log/slog"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Mail is one message to one recipient, with a plain-text and an HTML part.
type Mail struct {
	To      string
	Subject string
	Text    string
	HTML    string
	// Link is the action link the mail carries, logged by the outbox.
	Link string
}

// Mailer delivers mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// DefaultMailFrom is the sender when none is configured.
const DefaultMailFrom = "ChatterBox <chatterbox@localhost>"

func buildMsg(from string, m Mail) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("mail from %q: %w", from, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("mail to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// SMTPMailer sends mail through an SMTP server.
type SMTPMailer struct {
	from string
	opts []gomail.Option
	host string
}

// NewSMTPMailer configures SMTP from a URL:
//
//	smtp://user:pass@host:587   STARTTLS, required (port 587 by default)
//	smtps://user:pass@host:465  implicit TLS (port 465 by default)
//
// For a local relay without TLS, add ?tls=none (or ?tls=opportunistic to
// use STARTTLS when offered). Credentials, when given, use SMTP AUTH (the
// best mechanism the server offers). tlsConfig may be nil; tests use it to
// trust their own certificate.
func NewSMTPMailer(rawURL, from string, tlsConfig *tls.Config) (*SMTPMailer, error) {
	if from == "" {
		from = DefaultMailFrom
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("invalid mail sender %q: %w", from, err)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "smtp" && u.Scheme != "smtps") {
		return nil, fmt.Errorf("invalid SMTP URL %q: want smtp://user:pass@host:port or smtps://…", redactURL(rawURL))
	}
	host := u.Hostname()
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tlsConfig = tlsConfig.Clone()
	tlsConfig.ServerName = host
	opts := []gomail.Option{gomail.WithTimeout(15 * time.Second), gomail.WithTLSConfig(tlsConfig)}
	port := 587
	if u.Scheme == "smtps" {
		port = 465
		opts = append(opts, gomail.WithSSL())
	} else {
		switch u.Query().Get("tls") {
		case "", "required":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
		case "opportunistic":
			opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
		case "none":
			opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
		default:
			return nil, fmt.Errorf("invalid SMTP URL: tls=%q, want required, opportunistic or none", u.Query().Get("tls"))
		}
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("invalid SMTP URL: port %q", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &SMTPMailer{from: from, opts: opts, host: host}, nil
}

// redactURL hides the password of an SMTP URL in messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// Send delivers m over a new SMTP connection.
func (s *SMTPMailer) Send(ctx context.Context, m Mail) error {
	msg, err := buildMsg(s.from, m)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail via %s: %w", s.host, err)
	}
	return nil
}

// OutboxMailer writes each mail as an RFC 5322 .eml file into a folder and
// logs its link, so a node without SMTP settings still works: the user
// opens the file or clicks the logged link.
type OutboxMailer struct {
	Dir  string
	From string
	Log  *slog.Logger
}

// Send writes m to Dir/<time>-<random>.eml (mode 0600).
func (o *OutboxMailer) Send(_ context.Context, m Mail) error {
	from := o.From
	if from == "" {
		from = DefaultMailFrom
	}
	msg, err := buildMsg(from, m)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := msg.WriteTo(&buf); err != nil {
		return fmt.Errorf("render mail: %w", err)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	name := filepath.Join(o.Dir, time.Now().UTC().Format("20060102T150405.000Z")+"-"+randomToken(6)+".eml")
	if err := os.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if o.Log != nil {
		o.Log.Info("mail written to the outbox (no SMTP configured)", "to", m.To, "subject", m.Subject, "file", name, "link", m.Link)
	}
	return nil
}

// mailTemplate renders the two parts of a mail with an action link.
type mailTemplate struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

type mailData struct {
	Name, Link string
	Hours      int
}

func (t mailTemplate) render(to string, d mailData) (Mail, error) {
	var text, html strings.Builder
	if err := t.text.Execute(&text, d); err != nil {
		return Mail{}, err
	}
	if err := t.html.Execute(&html, d); err != nil {
		return Mail{}, err
	}
	return Mail{To: to, Subject: t.subject, Text: text.String(), HTML: html.String(), Link: d.Link}, nil
}

func newTemplate(subject, text, html string) mailTemplate {
	return mailTemplate{subject: subject,
		text: texttemplate.Must(texttemplate.New("t").Parse(text)),
		html: htmltemplate.Must(htmltemplate.New("h").Parse(html))}
}

var (
	verifyMail = newTemplate("Confirm your email for ChatterBox",
		"Hello {{.Name}},\n\nconfirm your email address by opening this link (valid for {{.Hours}} hours):\n\n{{.Link}}\n\nIf you did not sign up for ChatterBox, ignore this mail.\n",
		`<p>Hello {{.Name}},</p><p>confirm your email address by opening this link (valid for {{.Hours}} hours):</p><p><a href="{{.Link}}">Confirm my email</a></p><p>If you did not sign up for ChatterBox, ignore this mail.</p>`)
	takenMail = newTemplate("Someone tried to sign up to ChatterBox with your email",
		"Hello {{.Name}},\n\nsomeone (hopefully you) tried to create a ChatterBox account with this address, which already has one. To get in, sign in here, or reset your password from the sign-in page if you forgot it:\n\n{{.Link}}\n\nIf it was not you, ignore this mail; nothing changed.\n",
		`<p>Hello {{.Name}},</p><p>someone (hopefully you) tried to create a ChatterBox account with this address, which already has one. To get in, sign in here, or reset your password from the sign-in page if you forgot it:</p><p><a href="{{.Link}}">Sign in</a></p><p>If it was not you, ignore this mail; nothing changed.</p>`)
	resetMail = newTemplate("Reset your ChatterBox password",
		"Hello {{.Name}},\n\nsomeone (hopefully you) asked to reset your password. Choose a new one here (valid for {{.Hours}} hour):\n\n{{.Link}}\n\nIf it was not you, ignore this mail; your password stays as it is.\n",
		`<p>Hello {{.Name}},</p><p>someone (hopefully you) asked to reset your password. Choose a new one here (valid for {{.Hours}} hour):</p><p><a href="{{.Link}}">Reset my password</a></p><p>If it was not you, ignore this mail; your password stays as it is.</p>`)
)

// errMailQueueFull is logged when mails come faster than they can be sent.
var errMailQueueFull = errors.New("identity: mail queue full")
