package rules

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// Known answers for the sealing of epoch secrets and the encryption of
// messages. The seal was made once by SealEpoch (HPKE is randomised: the
// answer is that it opens, to the secret, for its context only); the
// message ciphertext is fixed by its nonce and is checked against a
// derivation written out here from the description in e2e.go, not by the
// code under test.

const (
	katSeal = "44395694f1e617224554b4f2cc78af05b5154e35dc3e8e80e3005828b429cc47cc41261eaca4673cdaf3a733898d3d26ecb0399b5934835ba381fab0abb1ef3514de095cdf0ba12a9652c5cfaab5382b397373eca5735d7ee17ebf969383b1cb22d405dba155775135f0d9796827e08f7d247bf23465da4c65881ec88bd0d60dc75b33fd971b771e238ee4359f6181a3dd875ac0485e9d5729bfee98ff4160d798aa3ff16e338770edcc36248d9d180b0f3879ce7e9f8ee21afa46a13813f807af495270b6dcd737a2fc321c13d3352a9da5ed464fc32fbf4f886e9e353769d6b74ca3e121be7d2d7d3d135dba060e77ef8501b607d991d8d8c7c976cf53a424156817dee0cfe065fd81620f3fc5606a4f1f6b70ea5433a4c887b8b9f5f8f673b75c9764c52242e2580ffeefea9313257242eb59d4a07661197397faa967caeddd516f8f31b25ee05acf1df8bda61f13aaa3bf573d8db6962f5ae045d0ebb1d201836bc7ef9f16690527f58df835c023afebb67def4c2690144a4ef5909db034651efba8958a6d2428811e7015fd24cca66eb6f114f5924677a7822a7ef778aed0a8b25e11c1f998d0561bcb427fdc77f3c1a305eba74f013eee963ad3597dea491f9e6680da55c1d36687e0fbf2315e1335e3002b6b7905ef4c453515cb971b46ea76342234b220be63a4bf0ca4f157c04ef2d4e29ef39eca14452c4a8b57b643ac96f6a912e15be739f8edacfa03e70bdb83671e8254e04543176d69ade83b53064098d52c960785f9bbe439faabf6e6225606d309eebaf1f95edd5337d0e3fe675961064a7c9d976b64cd7bfe3b49e07fc9d33019fc09e3995d976c1acc16531bf60d63c6c55f5ff41661644806f6ab5d67e3d0fe0cfc0a7422336605e130d033498636c86d1b7625187b08b7dec1479460bfec43dcc08fd31c82ac06d5f0cbc8d3fad1e7cce079e04056b73ecad93f5c8a00da4c4f2aafaa4be6f8814d266b67179374f951e6d2c75b2f62b7bd1165ec04b71136aead55ec35560341d88178aedc78ab074ba418fbd18dd90ab8c54ba7061ed0db713532ff5d53d16193697cec2ca95fa407b954d18f198327475bed6c4573b2fae307d651a20ca8a5b7b57fcfe04e1d89881f3d9563a22227b8ab36b293df458e286550757bd75c450b3b7a70407254aff0595d07e167099f8769b8ecbf3b46b1c970c99dcf3345e035e8a8f3c99e8c13b2d814275387457018bbf57335ecb23baf291d5979e6a18b1a4c9a7962ffb2474227211b1659b7ebc61047c8a1be3d5d62504f0e15944d1d1b0bd4aaeec9f5e7beb5a4a59e645713ce97948658e4351561e89800b2a9cc5e91e9aa74ce69910f491a988b1e2ef797b29babe25ebc22f9d01c294fbbcea1fa02e20ebecef576e50453e75346c0f399d3a29fc9a42def00b3a9d6e4ea3a60d2a8f193b2bec759baa9af92a56c85cc10c2e441b0dbf0cf758840592896c3eeaf4595f20024d4e37b2c553455e641bd8d7b324d3cecf7f2abd386ef93d548b82b5c92f577d76a51b456e97e133e7b0bab992dbd2d8df82e5d03c7cac8d26d4ac1602b5d9320e5b62e7ba7079b9394b5f175644229361b85da299eaabd69668d404cff9fffd6bb739d12b9c4b47c2e21e9c3bb"
	katMsg  = "404142434445464748494a4b5af7349df7bbb5204f6bb8f70dde50d0d6d16c9a4e1ed46e166c98b49bc02cbd3200c6093d659bedaef49eaf5b0159a2673922851e"
	katFP   = "VLOE-FX7S-YPZW-KOP2-YTLD"
)

// katKey is the key derived from the seed 1, 2, …, 32.
func katKey(t *testing.T) hpke.PrivateKey {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	k, err := DeriveEncKey(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func katSecret() []byte { return bytes.Repeat([]byte{0xaa}, 32) }

func TestEpochSealKnownAnswer(t *testing.T) {
	k := katKey(t)
	if got := EncFingerprint(EncPublic(k)); got != katFP {
		t.Fatalf("fingerprint of the derived key = %s, want %s (DeriveKeyPair or the fingerprint changed)", got, katFP)
	}
	seal, _ := hex.DecodeString(katSeal)
	if len(seal) != SealSize {
		t.Fatalf("seal of %d bytes, want %d", len(seal), SealSize)
	}
	secret, err := OpenEpoch(k, "party-kat", 7, "member-kat", seal)
	if err != nil || !bytes.Equal(secret, katSecret()) {
		t.Fatalf("known seal opens to %x, %v", secret, err)
	}
	// Bound to its party, epoch and member; any changed byte fails.
	for name, open := range map[string]func() ([]byte, error){
		"other party":  func() ([]byte, error) { return OpenEpoch(k, "party-other", 7, "member-kat", seal) },
		"other epoch":  func() ([]byte, error) { return OpenEpoch(k, "party-kat", 8, "member-kat", seal) },
		"other member": func() ([]byte, error) { return OpenEpoch(k, "party-kat", 7, "member-other", seal) },
		"flipped byte": func() ([]byte, error) {
			bad := bytes.Clone(seal)
			bad[len(bad)-1] ^= 1
			return OpenEpoch(k, "party-kat", 7, "member-kat", bad)
		},
		"flipped encapsulation": func() ([]byte, error) {
			bad := bytes.Clone(seal)
			bad[1100] ^= 1 // in the X25519 share
			return OpenEpoch(k, "party-kat", 7, "member-kat", bad)
		},
		"other key": func() ([]byte, error) {
			other, _ := NewEncKey()
			return OpenEpoch(other, "party-kat", 7, "member-kat", seal)
		},
	} {
		if s, err := open(); err == nil {
			t.Errorf("%s: opened to %x", name, s)
		}
	}
	// A fresh seal to the same key opens too, and differs (randomised).
	fresh, err := SealEpoch(EncPublic(k), "party-kat", 7, "member-kat", katSecret())
	if err != nil || bytes.Equal(fresh, seal) {
		t.Fatalf("fresh seal: %v (equal to the known one: %v)", err, bytes.Equal(fresh, seal))
	}
	if s, err := OpenEpoch(k, "party-kat", 7, "member-kat", fresh); err != nil || !bytes.Equal(s, katSecret()) {
		t.Fatalf("fresh seal opens to %x, %v", s, err)
	}
}

// field is one length-prefixed field, as e2e.go describes them.
func field(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func u64s(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }

func TestMessageEncryptionKnownAnswer(t *testing.T) {
	nonce := make([]byte, 12)
	for i := range nonce {
		nonce[i] = byte(0x40 + i)
	}
	msg := Message{Party: "party-kat", Topic: "topic", Author: "author", Node: "node", Seq: 3, HLC: 5 << 16, Kind: MsgPost, Body: "hello, world"}
	got, err := encryptMessage(msg, 7, katSecret(), nonce)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(got.Sealed) != katMsg {
		t.Fatalf("ciphertext\n got %x\nwant %s", got.Sealed, katMsg)
	}
	if got.Kind != "" || got.Body != "" || got.Epoch != 7 {
		t.Fatalf("content left beside the ciphertext: %+v", got)
	}
	// The derivation, written out: key = HKDF-SHA256(secret, salt party,
	// info label|topic|author|node); AD = label|party|topic|author|node|
	// seq|hlc|epoch; AES-256-GCM of the content's JSON.
	info := field(field(field(field(nil, "chatterbox/msg-key/v1"), "topic"), "author"), "node")
	key, err := hkdf.Key(sha256.New, katSecret(), []byte("party-kat"), string(info), 32)
	if err != nil {
		t.Fatal(err)
	}
	ad := field(nil, "chatterbox/msg-ad/v1")
	for _, f := range []string{"party-kat", "topic", "author", "node", u64s(3), u64s(5 << 16), u64s(7)} {
		ad = field(ad, f)
	}
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	plain, err := aead.Open(nil, nonce, got.Sealed[12:], ad)
	if err != nil {
		t.Fatalf("the written-out derivation does not open the ciphertext: %v", err)
	}
	var c struct{ Kind, Body string }
	if err := json.Unmarshal(plain, &c); err != nil || c.Kind != MsgPost || c.Body != "hello, world" {
		t.Fatalf("content %s (%v)", plain, err)
	}
	// And DecryptMessage gives back the message; any header change fails.
	back, err := DecryptMessage(got, katSecret())
	if err != nil || back.Body != "hello, world" || back.Kind != MsgPost {
		t.Fatalf("decrypt: %+v, %v", back, err)
	}
	for name, change := range map[string]func(*Message){
		"party": func(m *Message) { m.Party = "party-other" }, "topic": func(m *Message) { m.Topic = "other" },
		"author": func(m *Message) { m.Author = "other" }, "node": func(m *Message) { m.Node = "other" },
		"seq": func(m *Message) { m.Seq++ }, "time": func(m *Message) { m.HLC++ }, "epoch": func(m *Message) { m.Epoch++ },
		"tag": func(m *Message) { m.Sealed = bytes.Clone(m.Sealed); m.Sealed[len(m.Sealed)-1] ^= 1 },
	} {
		m := got
		change(&m)
		if _, err := DecryptMessage(m, katSecret()); err == nil {
			t.Errorf("changed %s: still opens", name)
		}
	}
	if _, err := DecryptMessage(got, bytes.Repeat([]byte{0xab}, 32)); err == nil {
		t.Error("opens under another epoch secret")
	}
}

func TestTypingEncryption(t *testing.T) {
	ty := Typing{Party: "p", Topic: "general", Author: "a", Node: "n", Time: 1234}
	sealed, err := EncryptTyping(ty, 2, katSecret())
	if err != nil || sealed.Topic != "" || sealed.Epoch != 2 {
		t.Fatalf("sealed %+v, %v", sealed, err)
	}
	back, err := DecryptTyping(sealed, katSecret())
	if err != nil || back.Topic != "general" {
		t.Fatalf("opened %+v, %v", back, err)
	}
	sealed.Time++
	if _, err := DecryptTyping(sealed, katSecret()); err == nil {
		t.Fatal("a typing notice with another time opens")
	}
}
