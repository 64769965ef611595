// The reaction picker: search and recently used come with the component
// (emoji-picker-react, kept up to date on npm). Native emoji only: it never
// loads images from anywhere.
import Picker, { EmojiStyle, Theme } from "emoji-picker-react";

// Its styles go in a <style> element, which the page's CSP admits only
// with the nonce the gateway put in the page.
const nonce = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content;

export default function EmojiPicker({ onPick }: { onPick: (emoji: string) => void }) {
  return (
    <Picker
      nonce={nonce}
      emojiStyle={EmojiStyle.NATIVE}
      theme={Theme.AUTO}
      lazyLoadEmojis
      previewConfig={{ showPreview: false }}
      onEmojiClick={(e) => onPick(e.emoji)}
    />
  );
}
