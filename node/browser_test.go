package node_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/chatterbox/chatterbox/node"
	"github.com/chatterbox/chatterbox/node/nodetest"
	"github.com/chatterbox/chatterbox/party"
	"github.com/chatterbox/chatterbox/party/rules"
)

// chromiumPath finds Debian's chromium. In CI a missing chrome fails the
// test (.ci/run installs it); elsewhere the test skips and says why.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-chrome", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs Debian's chromium package")
	}
	t.Skip("skipping the chrome test: chromium is not installed (apt-get install chromium, or set CHROMIUM)")
	return ""
}

// chrome is one headless Chromium with its own profile, driving the web
// app of one node. It records console errors and CSP violations.
type chrome struct {
	t    *testing.T
	name string
	ctx  context.Context
	base string

	mu     sync.Mutex
	errors []string
}

func newChrome(t *testing.T, name, exe, base string) *chrome {
	// Not t.TempDir: Chromium's helpers may still write to the profile for
	// a moment after the browser is closed, which fails t.TempDir's
	// removal; this one is removed with a few tries (registered first, so
	// it runs after the browser's cleanup).
	profile, err := os.MkdirTemp("", "chatterbox-chrome-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 20 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the browser profile %s", profile)
	})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	// Two headless Chromiums starting at once on 2 busy cores now and then
	// exit before printing their DevTools address ("chrome failed to
	// start" with no reason); that is the harness, not the app: try again.
	var b *chrome
	for attempt := range 3 {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		b = &chrome{t: t, name: name, ctx: ctx, base: base}
		chromedp.ListenTarget(ctx, func(ev any) {
			switch ev := ev.(type) {
			case *runtime.EventConsoleAPICalled:
				if ev.Type == runtime.APITypeError {
					var parts []string
					for _, a := range ev.Args {
						parts = append(parts, string(a.Value))
					}
					b.record("console error: " + strings.Join(parts, " "))
				}
			case *runtime.EventExceptionThrown:
				b.record("exception: " + ev.ExceptionDetails.Error())
			case *cdplog.EventEntryAdded:
				// CSP violations come here (source "security"), not to the
				// console API; failed requests ("network") are the API's
				// answers, which the tests judge themselves.
				if ev.Entry.Source == cdplog.SourceSecurity || (ev.Entry.Level == cdplog.LevelError && ev.Entry.Source != cdplog.SourceNetwork) {
					where := ev.Entry.URL
					if ev.Entry.StackTrace != nil && len(ev.Entry.StackTrace.CallFrames) > 0 {
						f := ev.Entry.StackTrace.CallFrames[0]
						where = fmt.Sprintf("%s:%d:%d (%s)", f.URL, f.LineNumber, f.ColumnNumber, f.FunctionName)
					}
					b.record(string(ev.Entry.Source) + ": " + ev.Entry.Text + " at " + where)
				}
			}
		})
		if err = chromedp.Run(ctx, cdplog.Enable()); err == nil {
			t.Cleanup(func() { cancel(); cancelAlloc() })
			break
		}
		cancel()
		cancelAlloc()
		t.Logf("%s: chromium did not start (attempt %d): %v", name, attempt+1, err)
	}
	if err != nil {
		t.Fatalf("%s: start chromium: %v", name, err)
	}
	return b
}

// newTab opens another tab of b's browser (same profile, same storage).
func (b *chrome) newTab(name string) *chrome {
	ctx, cancel := chromedp.NewContext(b.ctx)
	tab := &chrome{t: b.t, name: name, ctx: ctx, base: b.base}
	chromedp.ListenTarget(ctx, func(ev any) {
		if ev, ok := ev.(*runtime.EventExceptionThrown); ok {
			tab.record("exception: " + ev.ExceptionDetails.Error())
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		b.t.Fatalf("%s: open a tab: %v", name, err)
	}
	b.t.Cleanup(cancel)
	return tab
}

func (b *chrome) record(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// run performs actions with a generous bound; a step that never becomes
// possible fails the test with the step's name.
func (b *chrome) run(step string, actions ...chromedp.Action) {
	b.t.Helper()
	b.within(30*time.Second, step, actions...)
}

func (b *chrome) within(d time.Duration, step string, actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		var shot []byte
		sctx, scancel := context.WithTimeout(b.ctx, 5*time.Second)
		chromedp.Run(sctx, chromedp.FullScreenshot(&shot, 100))
		scancel()
		if len(shot) > 0 {
			p := filepath.Join(os.TempDir(), fmt.Sprintf("chatterbox-%s-failure.png", b.name))
			os.WriteFile(p, shot, 0o644)
			b.t.Logf("%s: screenshot of the failure: %s", b.name, p)
		}
		b.t.Fatalf("%s: %s: %v (page errors: %v)", b.name, step, err, b.pageErrors())
	}
}

func (b *chrome) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func (b *chrome) open(path string) chromedp.Action { return chromedp.Navigate(b.base + path) }

// visible reports whether an element matching the XPath is on the page now.
func (b *chrome) visible(xpath string) bool {
	var n int
	b.run("look for "+xpath, chromedp.Evaluate(`document.evaluate(`+strconv.Quote(xpath)+`, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, &n))
	return n > 0
}

func xpathText(s string) string { return "'" + s + "'" }

// signUp creates an account through the sign-up page and waits for the
// main screen.
func (b *chrome) signUp(name, email, password string) {
	b.run("sign up",
		b.open("/"),
		chromedp.WaitVisible(`//a[contains(., "Create an account")]`, chromedp.BySearch),
		chromedp.Click(`//a[contains(., "Create an account")]`, chromedp.BySearch),
		chromedp.WaitVisible(`input[autocomplete=nickname]`),
		chromedp.SendKeys(`input[autocomplete=nickname]`, name),
		chromedp.SendKeys(`input[type=email]`, email),
		chromedp.SendKeys(`input[autocomplete=new-password]`, password),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=me]`),
		chromedp.WaitVisible(`[data-testid=verify-banner]`),
	)
}

// dialog fills the open dialog's text input and submits it.
func (b *chrome) dialog(step, text string) {
	b.run(step,
		chromedp.WaitVisible(`[role=dialog] input`),
		chromedp.SendKeys(`[role=dialog] input`, text),
		chromedp.Click(`[role=dialog] button[type=submit]`),
		chromedp.WaitNotPresent(`[role=dialog]`),
	)
}

// submitDialog presses the open dialog's submit button until the dialog
// closes: a click that lands while the dialog still animates in (slow on a
// busy machine) may do nothing.
func (b *chrome) submitDialog(step string) {
	b.clickUntilGone(step, `[role=dialog] button[type=submit]`, chromedp.ByQuery)
}

// confirmDialog clicks the open dialog's button labelled label until the
// dialog is gone (a click while it animates in may do nothing).
func (b *chrome) confirmDialog(step, label string) {
	b.clickUntilGone(step, `//*[@role="dialog"]//button[contains(., `+xpathText(label)+`)]`, chromedp.BySearch)
}

func (b *chrome) clickUntilGone(step, sel string, by chromedp.QueryOption) {
	b.run(step,
		chromedp.WaitVisible(sel, by),
		chromedp.ActionFunc(func(ctx context.Context) error {
			for {
				if err := chromedp.Click(sel, chromedp.NodeVisible, by).Do(ctx); err != nil {
					return err
				}
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := chromedp.WaitNotPresent(`[role=dialog]`).Do(wctx)
				cancel()
				if err == nil || ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}),
	)
}

// menu opens a menu and picks an item. A click that lands while the
// layout is still moving (a resize, a closing dialog) may miss the menu,
// so the opening click is repeated until the item shows.
func (b *chrome) menu(step, button, item string) {
	itemSel := `//button[@role="menuitem"][contains(., ` + xpathText(item) + `)]`
	b.run(step,
		chromedp.ActionFunc(func(ctx context.Context) error {
			for {
				if err := chromedp.Click(`button[aria-label="` + button + `"]`).Do(ctx); err != nil {
					return err
				}
				wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				err := chromedp.WaitVisible(itemSel, chromedp.BySearch).Do(wctx)
				cancel()
				if err == nil || ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}),
		chromedp.Click(itemSel, chromedp.BySearch),
	)
}

func (b *chrome) openTopic(name string) {
	b.run("open #"+name,
		chromedp.Click(`//nav[@aria-label="Topics"]//button[contains(., `+xpathText(name)+`)]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="topic-name"][contains(., `+xpathText("# "+name)+`)]`, chromedp.BySearch),
	)
}

const topicsOffScreen = `(() => { const r = document.querySelector('nav[aria-label=Topics]').getBoundingClientRect(); return r.right <= 0 || r.left >= innerWidth; })()`

// topicsAtRest holds once the folded navigation is on screen and stood
// still between two polls: a click while it still slides can land beside
// its target.
const topicsAtRest = `(() => { const r = document.querySelector('nav[aria-label=Topics]').getBoundingClientRect(); const still = window.__topicsLeft === r.left; window.__topicsLeft = r.left; return still && r.left >= 0 && r.right <= innerWidth && r.width > 0; })()`

// waitJS polls a JavaScript condition until it holds.
func waitJS(expr string) chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var ok bool
			if err := chromedp.Evaluate(expr, &ok).Do(ctx); err != nil {
				return err
			}
			if ok {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

func messageXPath(body string, state string) string {
	sel := `//div[@data-testid="message"`
	if state != "" {
		sel += ` and @data-state="` + state + `"`
	}
	return sel + `]//*[@data-testid="body" and text()=` + xpathText(body) + `]`
}

// TestBrowserTwoNodesChat is the web app's end-to-end test: two nodes,
// two browsers. Both sign up; one creates a party, a topic and an invite;
// the other opens /join#… and joins; both chat and see each other's
// messages live; scrolling back loads older pages; an expired invite
// shows its sentence.
func TestBrowserTwoNodesChat(t *testing.T) {
	exe := chromiumPath(t)
	nodes := nodetest.Start(t, 2)
	a, b := newChrome(t, "alice", exe, nodes[0].GatewayURL()), newChrome(t, "bob", exe, nodes[1].GatewayURL())

	a.signUp("Alice", "alice@example.test", "correct horse battery staple")
	b.signUp("Bob", "bob@example.test", "tr0ub4dor&3 is not enough here")

	// Alice: a party, a topic, an invite.
	a.run("open the create-party dialog", chromedp.Click(`//button[contains(., "Create a party")]`, chromedp.BySearch))
	a.dialog("create the party", "Book Club")
	a.run("see the party", chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Book Club"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="topic-name"][contains(., "# general")]`, chromedp.BySearch))
	a.run("open the add-topic dialog", chromedp.Click(`//button[contains(., "Add topic")]`, chromedp.BySearch))
	a.dialog("create the topic", "novels")
	a.run("see the topic", chromedp.WaitVisible(`//*[@data-testid="topic-name"][contains(., "# novels")]`, chromedp.BySearch))

	a.menu("open the invite dialog", "Party options", "Invite people")
	var link string
	a.run("create an invite link",
		chromedp.WaitVisible(`[role=dialog] button[type=submit]`),
		chromedp.Click(`[role=dialog] button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=invite-link]`),
		chromedp.Value(`[data-testid=invite-link]`, &link),
		chromedp.WaitVisible(`//table//span[contains(., "active")]`, chromedp.BySearch),
		chromedp.KeyEvent("\x1b"), // Escape closes the dialog
		chromedp.WaitNotPresent(`[role=dialog]`),
	)
	_, fragment, ok := strings.Cut(link, "#")
	if !ok || !strings.Contains(link, "/join#") {
		t.Fatalf("invite link = %q", link)
	}

	// Older history for the scroll-back check: 120 messages in #general.
	api := nodetest.NewClient(t, nodes[0].GatewayURL())
	api.Token = api.SignIn("alice@example.test", "correct horse battery staple").String("accessToken")
	parties := api.Must(200, "GET", "/api/parties", nil)
	var list struct {
		Parties []party.View `json:"parties"`
	}
	json.Unmarshal(parties.Raw, &list)
	if len(list.Parties) != 1 {
		t.Fatalf("alice's parties: %s", parties.Raw)
	}
	pv := list.Parties[0]
	var general string
	for _, tp := range pv.Topics {
		if tp.Name == "general" {
			general = tp.ID
		}
	}
	const older = 120
	for i := range older {
		api.Must(201, "POST", "/api/parties/"+pv.ID+"/topics/"+general+"/messages", map[string]string{"body": fmt.Sprintf("older message %03d", i)})
	}

	// Bob opens the link on his own node and joins.
	b.run("open the invite",
		b.open("/join#"+fragment),
		chromedp.WaitVisible(`//*[@data-testid="invite-party"][text()="Book Club"]`, chromedp.BySearch),
		chromedp.Click(`[data-testid=join]`),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Book Club"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="topic-name"][contains(., "# general")]`, chromedp.BySearch),
	)
	b.run("see both members", chromedp.WaitVisible(`//section[@aria-label="Members"]//*[contains(., "Alice")]`, chromedp.BySearch))
	// The party is end-to-end encrypted, and the key Bob's app shows for
	// Alice is the one Alice's own node holds.
	aliceKey, ok := nodes[0].Identity().EncKey(pv.Owner)
	if !ok {
		t.Fatal("no encryption key for Alice on her node")
	}
	want := rules.EncFingerprint(rules.EncPublic(aliceKey))
	var shown string
	b.run("see the lock and Alice's key fingerprint",
		chromedp.WaitVisible(`[data-testid=e2e-lock]`),
		chromedp.WaitVisible(`//div[@data-testid="member"][contains(., "Alice")]//*[@data-testid="key-fingerprint"]`, chromedp.BySearch),
		chromedp.Text(`//div[@data-testid="member"][contains(., "Alice")]//*[@data-testid="key-fingerprint"]`, &shown, chromedp.BySearch))
	if !strings.Contains(shown, want) {
		t.Fatalf("Bob's app shows Alice's key as %q, want %s", shown, want)
	}
	// Alice makes a new key: Bob's app shows the new fingerprint.
	a.run("make a new encryption key",
		chromedp.Click(`button[aria-label="New encryption key"]`),
		chromedp.WaitVisible(`//*[@role="dialog"][contains(., "Make a new encryption key?")]`, chromedp.BySearch),
		chromedp.Click(`//*[@role="dialog"]//button[contains(., "Make a new key")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[role=dialog]`))
	aliceKey, _ = nodes[0].Identity().EncKey(pv.Owner)
	want = rules.EncFingerprint(rules.EncPublic(aliceKey))
	b.run("see Alice's new key fingerprint",
		chromedp.WaitVisible(`//div[@data-testid="member"][contains(., "Alice")]//*[@data-testid="key-fingerprint"][contains(., "`+want+`")]`, chromedp.BySearch))
	a.run("see bob join", chromedp.WaitVisible(`//section[@aria-label="Members"]//*[contains(., "Bob")]`, chromedp.BySearch))
	a.openTopic("general")

	// Live chat both ways, each seen by the other within two seconds.
	a.run("alice sends", chromedp.SendKeys(`[data-testid=composer]`, "hello from Alice\r"),
		chromedp.WaitVisible(messageXPath("hello from Alice", "sent"), chromedp.BySearch))
	b.within(2*time.Second, "bob sees alice's message live", chromedp.WaitVisible(messageXPath("hello from Alice", "sent"), chromedp.BySearch))
	b.run("bob starts typing", chromedp.SendKeys(`[data-testid=composer]`, "hi Alice, Bob here"))
	a.run("alice sees bob typing", chromedp.WaitVisible(`//*[@data-testid="typing"][contains(., "Bob is typing")]`, chromedp.BySearch))
	b.run("bob sends", chromedp.SendKeys(`[data-testid=composer]`, "\r"),
		chromedp.WaitVisible(messageXPath("hi Alice, Bob here", "sent"), chromedp.BySearch))
	a.within(2*time.Second, "alice sees bob's message live", chromedp.WaitVisible(messageXPath("hi Alice, Bob here", "sent"), chromedp.BySearch))

	// Shift+Enter makes a new line instead of sending.
	b.run("bob writes two lines",
		chromedp.SendKeys(`[data-testid=composer]`, "first line"),
		chromedp.KeyEvent("\r", chromedp.KeyModifiers(input.ModifierShift)),
		chromedp.SendKeys(`[data-testid=composer]`, "second line\r"),
	)
	a.within(2*time.Second, "alice sees the two-line message", chromedp.WaitVisible(messageXPath("first line\nsecond line", ""), chromedp.BySearch))

	// Scrolling back loads older pages until the start of the topic.
	b.run("scroll back to the start", chromedp.ActionFunc(func(ctx context.Context) error {
		for {
			var atStart bool
			if err := chromedp.Evaluate(`(() => { const m = document.querySelector('[data-testid=messages]'); m.scrollTop = 0; m.dispatchEvent(new Event('scroll')); return !!document.querySelector('[data-testid=history-start]'); })()`, &atStart).Do(ctx); err != nil {
				return err
			}
			if atStart {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}))
	var bodies []string
	b.run("read the history", chromedp.Evaluate(`Array.from(document.querySelectorAll('[data-testid=body]')).map(e => e.textContent)`, &bodies))
	seen := map[string]bool{}
	for _, s := range bodies {
		if seen[s] {
			t.Fatalf("message %q shows twice", s)
		}
		seen[s] = true
	}
	for i := range older {
		if !seen[fmt.Sprintf("older message %03d", i)] {
			t.Fatalf("older message %03d missing after scrolling back; saw %d messages", i, len(bodies))
		}
	}
	for i := range older {
		if want := fmt.Sprintf("older message %03d", i); bodies[i] != want {
			t.Fatalf("history position %d shows %q, want %q: history is out of order", i, bodies[i], want)
		}
	}

	// Bob edits his message; Alice sees the change.
	b.run("bob edits his message",
		chromedp.Evaluate(`document.querySelector('[data-testid=messages]').scrollTop = 1e9`, nil),
		chromedp.Click(`//div[@data-testid="message"][.//*[text()="hi Alice, Bob here"]]//button[@aria-label="Message options"]`, chromedp.BySearch),
		chromedp.Click(`//button[@role="menuitem"][contains(., "Edit")]`, chromedp.BySearch),
		chromedp.WaitVisible(`textarea[aria-label="Edit message"]`),
		chromedp.SendKeys(`textarea[aria-label="Edit message"]`, " (edited)\r"),
		chromedp.WaitVisible(messageXPath("hi Alice, Bob here (edited)", "sent"), chromedp.BySearch),
	)
	a.run("alice sees the edit", chromedp.WaitVisible(messageXPath("hi Alice, Bob here (edited)", "sent"), chromedp.BySearch))

	// Alice deletes her first message; both see it gone.
	a.run("alice deletes her message",
		chromedp.Click(`//div[@data-testid="message"][.//*[text()="hello from Alice"]]//button[@aria-label="Message options"]`, chromedp.BySearch),
		chromedp.Click(`//button[@role="menuitem"][contains(., "Delete")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@role="dialog"][contains(., "Delete this message?")]`, chromedp.BySearch),
		chromedp.Click(`//*[@role="dialog"]//button[text()="Delete" or .//*[text()="Delete"]]`, chromedp.BySearch),
		chromedp.WaitNotPresent(messageXPath("hello from Alice", ""), chromedp.BySearch),
		chromedp.WaitVisible(`//div[@data-testid="message"]//*[contains(., "This message was deleted.")]`, chromedp.BySearch),
	)
	// ArrowUp in the empty composer edits her last message; Shift+click
	// on Delete deletes without asking.
	a.run("alice fixes a typo with ArrowUp",
		chromedp.SendKeys(`[data-testid=composer]`, "a typo mesage\r"),
		chromedp.WaitVisible(messageXPath("a typo mesage", "sent"), chromedp.BySearch),
		chromedp.Focus(`[data-testid=composer]`),
		chromedp.KeyEvent(kb.ArrowUp),
		chromedp.WaitVisible(`textarea[aria-label="Edit message"]`),
		chromedp.SendKeys(`textarea[aria-label="Edit message"]`, " (fixed)\r"),
		chromedp.WaitVisible(messageXPath("a typo mesage (fixed)", "sent"), chromedp.BySearch),
	)
	a.run("alice shift-clicks delete",
		chromedp.Click(`//div[@data-testid="message"][.//*[text()="a typo mesage (fixed)"]]//button[@aria-label="Message options"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//button[@role="menuitem"][contains(., "Delete")]`, chromedp.BySearch),
		chromedp.QueryAfter(`//button[@role="menuitem"][contains(., "Delete")]`, func(ctx context.Context, _ runtime.ExecutionContextID, nodes ...*cdp.Node) error {
			return chromedp.MouseClickNode(nodes[0], chromedp.ButtonModifiers(input.ModifierShift)).Do(ctx)
		}, chromedp.BySearch, chromedp.NodeVisible),
		chromedp.WaitNotPresent(messageXPath("a typo mesage (fixed)", ""), chromedp.BySearch),
	)
	if a.visible(`//*[@role="dialog"][contains(., "Delete this message?")]`) {
		t.Fatal("shift+click on Delete asked anyway")
	}
	b.run("bob sees it deleted", chromedp.WaitNotPresent(messageXPath("hello from Alice", ""), chromedp.BySearch),
		chromedp.WaitVisible(`//div[@data-testid="message"]//*[contains(., "This message was deleted.")]`, chromedp.BySearch))

	// A message in a topic Alice is not reading marks it unread.
	a.openTopic("novels")
	b.run("bob sends while alice reads #novels", chromedp.SendKeys(`[data-testid=composer]`, "are you there?\r"),
		chromedp.WaitVisible(messageXPath("are you there?", "sent"), chromedp.BySearch))
	a.run("alice sees #general unread", chromedp.WaitVisible(`//nav[@aria-label="Topics"]//button[contains(., "general")]//*[@aria-label="1 unread"]`, chromedp.BySearch))
	a.openTopic("general")
	a.run("the unread mark clears", chromedp.WaitNotPresent(`//nav[@aria-label="Topics"]//*[@aria-label="1 unread"]`, chromedp.BySearch),
		chromedp.WaitVisible(messageXPath("are you there?", ""), chromedp.BySearch))

	// Bob's node restarts while Alice writes: his page says it lost the
	// node, reconnects by itself and catches up.
	cfg := nodetest.SameAddrs(nodes[1])
	cfg.GatewayAddr = strings.TrimPrefix(nodes[1].GatewayURL(), "http://")
	if err := nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	b.run("bob's page notices", chromedp.WaitVisible(`[data-testid=offline]`))
	a.run("alice writes while bob's node is down", chromedp.SendKeys(`[data-testid=composer]`, "written while you were away\r"),
		chromedp.WaitVisible(messageXPath("written while you were away", "sent"), chromedp.BySearch))
	nodes[1] = nodetest.StartWith(t, cfg)
	b.run("bob's page reconnects and catches up", chromedp.WaitNotPresent(`[data-testid=offline]`),
		chromedp.WaitVisible(messageXPath("written while you were away", ""), chromedp.BySearch))

	// The main screen, for the README.
	var shot []byte
	a.run("screenshot", chromedp.Evaluate(`document.querySelector('[data-testid=messages]').scrollTop = 1e9`, nil),
		chromedp.Sleep(300*time.Millisecond), // let the scroll settle for the picture only
		chromedp.FullScreenshot(&shot, 100))
	if dir := os.Getenv("CHATTERBOX_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "main-screen.png"), shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// At a phone's width the lists fold away behind buttons and the
	// conversation keeps the screen.
	var phone []byte
	a.run("phone layout",
		chromedp.EmulateViewport(390, 844),
		chromedp.WaitVisible(`button[aria-label="Parties and topics"]`),
		chromedp.WaitVisible(`[data-testid=composer]`),
		waitJS(topicsOffScreen),
		chromedp.FullScreenshot(&phone, 100),
		chromedp.Click(`button[aria-label="Parties and topics"]`),
		chromedp.WaitVisible(`//nav[@aria-label="Topics"]//button[contains(., "novels")]`, chromedp.BySearch),
		waitJS(topicsAtRest),
		chromedp.Click(`//nav[@aria-label="Topics"]//button[contains(., "novels")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="topic-name"][contains(., "# novels")]`, chromedp.BySearch),
		waitJS(topicsOffScreen),
	)
	if dir := os.Getenv("CHATTERBOX_SCREENSHOT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "phone.png"), phone, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The owner renames the party and a topic; the member sees both.
	a.run("back to the desktop layout", chromedp.EmulateViewport(1280, 800),
		waitJS(`document.querySelector('nav[aria-label=Topics]').getBoundingClientRect().left >= 72`))
	a.menu("open the rename dialog", "Party options", "Rename party")
	a.run("rename the party",
		chromedp.WaitVisible(`[role=dialog] input`),
		chromedp.Evaluate(`document.querySelector('[role=dialog] input').select()`, nil),
		chromedp.SendKeys(`[role=dialog] input`, "Readers"),
		chromedp.Click(`[role=dialog] button[type=submit]`),
		chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Readers"]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[role=dialog]`),
	)
	a.menu("open the topic's rename dialog", "Options for topic novels", "Rename topic")
	a.run("rename the topic",
		chromedp.WaitVisible(`[role=dialog] input`),
		chromedp.Evaluate(`document.querySelector('[role=dialog] input').select()`, nil),
		chromedp.SendKeys(`[role=dialog] input`, "fiction"),
		chromedp.Click(`[role=dialog] button[type=submit]`),
		chromedp.WaitVisible(`//nav[@aria-label="Topics"]//button[contains(., "fiction")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[role=dialog]`),
	)
	b.run("bob sees the new names", chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Readers"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//nav[@aria-label="Topics"]//button[contains(., "fiction")]`, chromedp.BySearch))

	// The owner removes Bob; his app drops the party and tells him.
	a.menu("open bob's options", "Options for Bob", "Remove from party")
	a.run("confirm the removal",
		chromedp.Click(`//section[@role="dialog"]//button[contains(., "Remove")]|//div[@role="dialog"]//button[contains(., "Remove")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`//section[@aria-label="Members"]//*[contains(., "Bob")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[role=dialog]`),
	)
	b.run("bob is told and the party is gone",
		chromedp.WaitVisible(`//*[contains(., "You were removed from Readers.")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[contains(., "Welcome, Bob")]`, chromedp.BySearch),
	)
	// The removal is a ban, listed for the owner, who can lift it.
	a.run("see bob banned", chromedp.WaitVisible(`//section[@aria-label="Banned"]//*[contains(., "Bob")]`, chromedp.BySearch))
	a.run("lift bob's ban",
		chromedp.Click(`//section[@aria-label="Banned"]//button[contains(., "Lift ban")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`//section[@aria-label="Banned"]`, chromedp.BySearch),
	)

	// An expired invite shows its sentence.
	expired := expiredInvite(t, nodes[0], pv)
	b.run("open an expired invite",
		b.open("/join#"+expired),
		chromedp.WaitVisible(`//*[@data-testid="error"][contains(., "This invite has expired. Ask for a new one.")]`, chromedp.BySearch),
	)
	// A revoked invite says so before Join is pressed: Bob's node asks
	// Alice's (Bob is no longer in the party).
	revoked := api.Must(201, "POST", "/api/parties/"+pv.ID+"/invites", map[string]any{})
	api.Must(204, "DELETE", "/api/parties/"+pv.ID+"/invites/"+revoked.String("id"), nil)
	b.run("open a revoked invite",
		b.open("/join#"+revoked.String("token")),
		chromedp.WaitVisible(`//*[@data-testid="invite-refused"][contains(., "This invite was revoked.")]`, chromedp.BySearch),
		chromedp.WaitNotPresent(`[data-testid=join]`),
	)

	for _, br := range []*chrome{a, b} {
		if errs := br.pageErrors(); len(errs) > 0 {
			t.Errorf("%s: the page logged errors: %v", br.name, errs)
		}
	}
}

// expiredInvite signs an invite for pv that expired an hour ago, with the
// owner's real key, as a stale link in someone's inbox would be.
func expiredInvite(t *testing.T, owner *node.Node, pv party.View) string {
	t.Helper()
	key, ok := owner.Identity().MemberKey(pv.Owner)
	if !ok {
		t.Fatal("the owner's member key is not on the owner's node")
	}
	token, err := rules.SignInvite(rules.Invite{V: 1, Party: pv.ID, PartyName: pv.Name, ID: "expired-test-invite", Owner: pv.Owner,
		OwnerPeer: owner.PeerID(), Expires: time.Now().Add(-time.Hour).Unix()}, key)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestBrowserAccountFlows drives the account pages in the browser: the
// verification link from a real mail, sign-out, a wrong password, forgot
// and reset password from the mailed link, and an invite accepted while
// the owner's node is offline, which moves on by itself when it is back.
func TestBrowserAccountFlows(t *testing.T) {
	exe := chromiumPath(t)
	ms := nodetest.StartMailServer(t, false)
	n := mailNode(t, ms, false, nil)
	// Carol opens the address the node listens on (127.0.0.1); the app
	// moves her to the one origin mailed links use (localhost), so the
	// mailed link opens signed in, and the tab she left learns at once
	// that her email is verified.
	c := newChrome(t, "carol", exe, n.GatewayURL())

	c.signUp("Carol", "carol@example.test", "correct horse battery staple")
	var origin string
	c.run("see the banner, on the canonical origin", chromedp.WaitVisible(`[data-testid=verify-banner]`), chromedp.Evaluate(`location.origin`, &origin))
	if origin != n.OpenURL() || !strings.Contains(origin, "localhost") {
		t.Fatalf("the app runs on %s, want %s (where links in mails point)", origin, n.OpenURL())
	}
	verify := nodetest.ParseMail(t, ms.Next(t).Raw).Link(t)
	mail := c.newTab("carol-mail")
	mail.run("follow the verification link in another tab",
		chromedp.Navigate(verify),
		chromedp.WaitVisible(`//*[@data-testid="done"][contains(., "your email carol@example.test is verified")]`, chromedp.BySearch),
		chromedp.Click(`//a[contains(., "Open ChatterBox")]`, chromedp.BySearch),
		chromedp.WaitVisible(`[data-testid=me]`),
		chromedp.WaitNotPresent(`[data-testid=verify-banner]`),
	)
	c.run("the first tab drops its banner without a reload", chromedp.WaitNotPresent(`[data-testid=verify-banner]`))

	c.run("sign out", chromedp.Click(`button[aria-label="Sign out"]`), chromedp.WaitVisible(`input[autocomplete=current-password]`))
	c.run("a wrong password gets its sentence",
		chromedp.SendKeys(`input[type=email]`, "carol@example.test"),
		chromedp.SendKeys(`input[autocomplete=current-password]`, "not my password at all"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`//*[@data-testid="error"][contains(., "The email or password is wrong.")]`, chromedp.BySearch),
	)
	c.run("ask for a reset",
		chromedp.Click(`//a[contains(., "Forgot password?")]`, chromedp.BySearch),
		chromedp.WaitVisible(`input[type=email]`),
		chromedp.SendKeys(`input[type=email]`, "carol@example.test"),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`[role=status]`),
	)
	reset := nodetest.ParseMail(t, ms.Next(t).Raw).Link(t)
	const newPassword = "a brand new passphrase for carol"
	c.run("reset the password from the mailed link",
		chromedp.Navigate(reset),
		chromedp.WaitVisible(`input[autocomplete=new-password]`),
		chromedp.SendKeys(`input[autocomplete=new-password]`, newPassword),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=done]`),
		chromedp.Click(`//button[contains(., "Sign in")]`, chromedp.BySearch),
		chromedp.WaitVisible(`input[autocomplete=current-password]`),
		chromedp.SendKeys(`input[type=email]`, "carol@example.test"),
		chromedp.SendKeys(`input[autocomplete=current-password]`, newPassword),
		chromedp.Click(`button[type=submit]`),
		chromedp.WaitVisible(`[data-testid=me]`),
	)

	// An invite whose owner's node is offline: pending, then admitted.
	owner := nodetest.StartWith(t, nodetest.Config(t, t.TempDir()))
	api := nodetest.NewClient(t, owner.GatewayURL())
	api.SignUp("dan@example.test", "correct horse battery staple", "Dan")
	p := api.Must(201, "POST", "/api/parties", map[string]string{"name": "Later"})
	link := api.Must(201, "POST", "/api/parties/"+p.String("id")+"/invites", map[string]any{}).String("link")
	_, token, _ := strings.Cut(link, "#")
	cfg := nodetest.SameAddrs(owner)
	if err := owner.Close(); err != nil {
		t.Fatal(err)
	}
	c.run("accept while the owner is offline",
		c.open("/join#"+token),
		chromedp.WaitVisible(`//*[@data-testid="invite-party"][text()="Later"]`, chromedp.BySearch),
		chromedp.Click(`[data-testid=join]`),
		chromedp.WaitVisible(`[data-testid=pending]`),
	)
	nodetest.StartWith(t, cfg)
	c.run("admitted without doing anything", chromedp.WaitVisible(`//*[@data-testid="party-name"][text()="Later"]`, chromedp.BySearch))

	if errs := c.pageErrors(); len(errs) > 0 {
		t.Errorf("the page logged errors: %v", errs)
	}
}
