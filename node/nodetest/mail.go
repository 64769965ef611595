package nodetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// MailServer is a real SMTP server inside the test process: STARTTLS (or
// implicit TLS), AUTH PLAIN with one user, and every accepted message
// delivered to Received.
type MailServer struct {
	Addr     string
	User     string
	Password string
	// ClientTLS trusts the server's self-signed certificate.
	ClientTLS *tls.Config
	Received  chan ReceivedMail
}

// ReceivedMail is one message as the server got it.
type ReceivedMail struct {
	From, To string
	Raw      []byte
}

// StartMailServer starts the server on 127.0.0.1 and stops it when the
// test ends. implicitTLS selects smtps (TLS from the first byte).
func StartMailServer(t testing.TB, implicitTLS bool) *MailServer {
	t.Helper()
	serverTLS, clientTLS := selfSignedTLS(t)
	ms := &MailServer{User: "mailer", Password: "s3cret-pass", ClientTLS: clientTLS, Received: make(chan ReceivedMail, 16)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{ms: ms}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = serverTLS
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicitTLS {
		ln = tls.NewListener(ln, serverTLS)
	}
	ms.Addr = ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ms
}

// URL is the --smtp-url for this server.
func (ms *MailServer) URL(implicitTLS bool) string {
	scheme := "smtp"
	if implicitTLS {
		scheme = "smtps"
	}
	return scheme + "://" + ms.User + ":" + ms.Password + "@" + ms.Addr
}

// Next waits for the next mail.
func (ms *MailServer) Next(t testing.TB) ReceivedMail {
	t.Helper()
	select {
	case m := <-ms.Received:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("nodetest: no mail arrived within 15s")
		return ReceivedMail{}
	}
}

type mailSession struct {
	ms     *MailServer
	authed bool
	from   string
	to     []string
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.ms.User || pass != s.ms.Password {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *mailSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, to := range s.to {
		s.ms.Received <- ReceivedMail{From: s.from, To: to, Raw: raw}
	}
	return nil
}
func (s *mailSession) Reset()        { s.from, s.to = "", nil }
func (s *mailSession) Logout() error { return nil }

func selfSignedTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// ParsedMail is a received mail's headers and decoded parts.
type ParsedMail struct {
	Header mail.Header
	Text   string
	HTML   string
}

// ParseMail decodes an RFC 5322 message with a multipart/alternative body.
func ParseMail(t testing.TB, raw []byte) ParsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("nodetest: mail does not parse: %v\n%s", err, raw)
	}
	out := ParsedMail{Header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("nodetest: mail is %q, want multipart", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			out.Text = string(body)
		case "text/html":
			out.HTML = string(body)
		}
	}
	return out
}

var linkRE = regexp.MustCompile(`https?://[^\s"<>]+#token=[A-Za-z0-9_-]+`)

// Link returns the action link in the mail's text part.
func (m ParsedMail) Link(t testing.TB) string {
	t.Helper()
	l := linkRE.FindString(m.Text)
	if l == "" {
		t.Fatalf("nodetest: no link in mail:\n%s", m.Text)
	}
	return l
}

// Token returns the token after "#token=" in a link.
func Token(link string) string {
	_, tok, _ := strings.Cut(link, "#token=")
	return tok
}
