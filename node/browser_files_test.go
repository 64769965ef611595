package node_test

import (
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestBrowserAttachments: Alice drops a picture and a text file on the
// message pane; each uploads with its progress bar, and she sends them
// with a caption. Bob's node fetches them from hers: the picture shows in
// place, the text file as a card with a download button.
func TestBrowserAttachments(t *testing.T) {
	_, a, b := aliceAndBobIn(t, "Picnic")
	// A real PNG drawn on a canvas, and a text file, dropped as a user's
	// file manager would drop them.
	drop := `(async () => {
		const c = document.createElement("canvas"); c.width = 64; c.height = 48;
		const g = c.getContext("2d"); g.fillStyle = "#3a7"; g.fillRect(0, 0, 64, 48);
		const png = await new Promise((ok) => c.toBlob(ok, "image/png"));
		const dt = new DataTransfer();
		dt.items.add(new File([png], "picnic.png", { type: "image/png" }));
		dt.items.add(new File(["bring plates\n"], "list.txt", { type: "text/plain" }));
		const pane = document.querySelector("[data-testid=pane]");
		pane.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
		pane.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
		return true;
	})()`
	var ok bool
	a.run("drop two files on the pane",
		chromedp.WaitVisible(`[data-testid=composer]`),
		chromedp.Evaluate(drop, &ok, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }),
		chromedp.WaitVisible(`//*[@data-testid="upload"][contains(., "picnic.png")]//*[@data-testid="upload-progress"]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="upload" and @data-done][contains(., "picnic.png")]`, chromedp.BySearch),
		chromedp.WaitVisible(`//*[@data-testid="upload" and @data-done][contains(., "list.txt")]`, chromedp.BySearch))
	a.run("send them with a caption",
		chromedp.SendKeys(`[data-testid=composer]`, "our picnic\r"),
		chromedp.WaitNotPresent(`[data-testid=upload]`),
		chromedp.WaitVisible(messageXPath("our picnic", "sent"), chromedp.BySearch),
		chromedp.WaitVisible(`img[data-testid=file-image][alt="picnic.png"]`))
	var width int
	b.run("see the picture and the file from Alice's node",
		chromedp.WaitVisible(`img[data-testid=file-image][alt="picnic.png"]`),
		chromedp.WaitVisible(`//*[@data-testid="file-card"][contains(., "list.txt")][contains(., "text/plain")]//button[@aria-label="Download list.txt"]`, chromedp.BySearch),
		chromedp.Poll(`(() => { const i = document.querySelector('img[data-testid=file-image]'); return i && i.complete && i.naturalWidth; })()`, &width))
	if width != 64 {
		t.Fatalf("Bob's picture is %d pixels wide, want 64", width)
	}
	for _, c := range []*chrome{a, b} {
		if errs := c.pageErrors(); len(errs) > 0 {
			t.Fatalf("%s: page errors: %v", c.name, errs)
		}
	}
}
