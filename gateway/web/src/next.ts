// Where to go after signing in: set when a signed-out user opens a page
// that needs an account, such as an invite link. Read during render (so
// it survives React's double renders) and cleared by the page it names.
const KEY = "chatterbox.next";

export function rememberNext(path: string) {
  sessionStorage.setItem(KEY, path);
}

export function peekNext(): string | null {
  return sessionStorage.getItem(KEY);
}

export function clearNext() {
  sessionStorage.removeItem(KEY);
}
