package rotation_test

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/issuer-dev/issuer/rotation"
)

// testKeys are generated once per test binary: RSA generation is slow under the race detector.
var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	keys := map[string]crypto.Signer{}
	var err error
	if keys["rsa2048"], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if keys["rsa1024"], err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
		panic(err)
	}
	for name, c := range map[string]elliptic.Curve{"p224": elliptic.P224(), "p256": elliptic.P256(), "p384": elliptic.P384(), "p521": elliptic.P521()} {
		if keys[name], err = ecdsa.GenerateKey(c, rand.Reader); err != nil {
			panic(err)
		}
	}
	if _, keys["ed25519"], err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return keys
})

func pemBlock(typ string, der []byte, headers map[string]string) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Headers: headers, Bytes: der})
}

func pkcs8(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der, nil)
}

func sec1(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der, nil)
}

func pkcs1(k crypto.Signer) []byte {
	return pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey)), nil)
}

func publicPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PUBLIC KEY", der, nil)
}

func sameKey(t testing.TB, got, want crypto.Signer) {
	t.Helper()
	g, err := rotation.Thumbprint(got.Public())
	if err != nil {
		t.Fatal(err)
	}
	w, _ := rotation.Thumbprint(want.Public())
	if g != w {
		t.Fatalf("parsed key has thumbprint %s, want %s", g, w)
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	k := testKeys()
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// EC PARAMETERS as openssl ecparam -genkey writes it before the key: the OID of prime256v1.
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, nil)
	tests := []struct {
		name       string
		data       []byte
		key        crypto.Signer // the key it must parse to; nil when refused
		configured string        // signing.algorithm for DefaultAlg
		alg        string        // DefaultAlg
		err        string        // refusal must contain this
	}{
		{name: "RSA PKCS#8", data: pkcs8(t, k["rsa2048"]), key: k["rsa2048"], configured: "ES256", alg: "RS256"},
		{name: "RSA PKCS#1 takes a configured PS alg", data: pkcs1(k["rsa2048"]), key: k["rsa2048"], configured: "PS384", alg: "PS384"},
		{name: "RSA PKCS#1 takes a configured RS alg", data: pkcs1(k["rsa2048"]), key: k["rsa2048"], configured: "RS512", alg: "RS512"},
		{name: "RSA with EdDSA configured", data: pkcs1(k["rsa2048"]), key: k["rsa2048"], configured: "EdDSA", alg: "RS256"},
		{name: "RSA with a bogus configured alg", data: pkcs1(k["rsa2048"]), key: k["rsa2048"], configured: "RSX", alg: "RS256"},
		{name: "P-256 SEC1", data: sec1(t, k["p256"]), key: k["p256"], configured: "RS256", alg: "ES256"},
		{name: "P-256 SEC1 after EC PARAMETERS", data: append(ecParams, sec1(t, k["p256"])...), key: k["p256"], alg: "ES256"},
		{name: "P-384 PKCS#8", data: pkcs8(t, k["p384"]), key: k["p384"], alg: "ES384"},
		{name: "P-521 SEC1", data: sec1(t, k["p521"]), key: k["p521"], alg: "ES512"},
		{name: "Ed25519 PKCS#8", data: pkcs8(t, k["ed25519"]), key: k["ed25519"], configured: "ES256", alg: "EdDSA"},
		{name: "text around the block", data: append(append([]byte("Key for prod\n"), pkcs8(t, k["ed25519"])...), "trailer\n"...), key: k["ed25519"], alg: "EdDSA"},
		{name: "CRLF line ends", data: bytes.ReplaceAll(pkcs8(t, k["p256"]), []byte("\n"), []byte("\r\n")), key: k["p256"], alg: "ES256"},
		{name: "PKCS#1 labelled PRIVATE KEY", data: pemBlock("PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k["rsa2048"].(*rsa.PrivateKey)), nil), key: k["rsa2048"], alg: "RS256"},

		{name: "RSA 1024", data: pkcs1(k["rsa1024"]), err: "RSA key has 1024 bits; at least 2048"},
		{name: "P-224", data: sec1(t, k["p224"]), err: "curve P-224"},
		{name: "X25519", data: pkcs8(t, x25519), err: "X25519 key cannot sign"},
		{name: "PKCS#8 encrypted", data: pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}, nil), err: "encrypted"},
		{name: "legacy encrypted", data: pemBlock("RSA PRIVATE KEY", []byte{1, 2, 3}, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"}), err: "encrypted"},
		{name: "public key", data: publicPEM(t, k["p256"]), err: "holds a PUBLIC KEY, not a private key"},
		{name: "certificate", data: pemBlock("CERTIFICATE", []byte{0x30, 0x00}, nil), err: "holds a CERTIFICATE, not a private key"},
		{name: "two private keys", data: append(pkcs8(t, k["p256"]), pkcs8(t, k["ed25519"])...), err: "more than one private key"},
		{name: "OpenSSH", data: pemBlock("OPENSSH PRIVATE KEY", []byte("openssh-key-v1\x00"), nil), err: "OpenSSH"},
		{name: "unknown block", data: pemBlock("DH PARAMETERS", []byte{0x30, 0x00}, nil), err: `PEM blocks: ["DH PARAMETERS"]`},
		{name: "empty", data: nil, err: "no PEM block"},
		{name: "DER, not PEM", data: x509.MarshalPKCS1PrivateKey(k["rsa2048"].(*rsa.PrivateKey)), err: "no PEM block"},
		{name: "corrupt PKCS#8", data: pemBlock("PRIVATE KEY", []byte("not DER at all"), nil), err: "not a valid PKCS#8 private key"},
		{name: "corrupt SEC1", data: pemBlock("EC PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x01}, nil), err: "not a valid SEC1 private key"},
		{name: "larger than 64 KiB", data: append(pkcs8(t, k["p256"]), bytes.Repeat([]byte("#"), rotation.MaxPEMBytes)...), err: "larger than 64 KiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rotation.ParsePrivateKeyPEM(tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %T, %v; want an error containing %q", got, err, tc.err)
				}
				if got != nil {
					t.Errorf("refused but returned a key: %T", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sameKey(t, got, tc.key)
			if alg := rotation.DefaultAlg(got, tc.configured); alg != tc.alg {
				t.Errorf("DefaultAlg(%q) = %q, want %q", tc.configured, alg, tc.alg)
			}
			if err := rotation.CheckKeyAlg(got, tc.alg); err != nil {
				t.Errorf("the default alg does not fit the key: %v", err)
			}
		})
	}
}

func TestParsePrivateKeyPEMEncryptedIsErrEncryptedPEM(t *testing.T) {
	_, err := rotation.ParsePrivateKeyPEM(pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}, nil))
	if !errors.Is(err, rotation.ErrEncryptedPEM) {
		t.Fatalf("%v, want ErrEncryptedPEM", err)
	}
}

func TestCheckKeyAlg(t *testing.T) {
	k := testKeys()
	tests := []struct {
		key  crypto.Signer
		alg  string
		want string // "" for fits
	}{
		{k["rsa2048"], "RS256", ""},
		{k["rsa2048"], "PS512", ""},
		{k["rsa2048"], "ES256", "an RSA 2048-bit key cannot sign ES256; it signs RS256, RS384, RS512, PS256, PS384, PS512"},
		{k["rsa1024"], "RS256", "at least 2048"},
		{k["p256"], "ES256", ""},
		{k["p256"], "ES384", "an ECDSA P-256 key cannot sign ES384; it signs ES256"},
		{k["p384"], "ES384", ""},
		{k["p521"], "ES512", ""},
		{k["p521"], "EdDSA", "it signs ES512"},
		{k["p224"], "ES256", "curve P-224"},
		{k["ed25519"], "EdDSA", ""},
		{k["ed25519"], "RS256", "an Ed25519 key cannot sign RS256; it signs EdDSA"},
		{k["ed25519"], "HS256", `unsupported algorithm "HS256"`},
		{k["rsa2048"], "", `unsupported algorithm ""`},
		{k["rsa2048"], "R", `unsupported algorithm "R"`},
		{k["rsa2048"], "RSX", `unsupported algorithm "RSX"`},
	}
	for _, tc := range tests {
		err := rotation.CheckKeyAlg(tc.key, tc.alg)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s with %s: %v, want it to fit", rotation.KeyDescription(tc.key), tc.alg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s with %s: %v, want an error containing %q", rotation.KeyDescription(tc.key), tc.alg, err, tc.want)
		}
	}
}

// TestParsePrivateKeyPEMFromOpenSSL imports keys as the openssl commands operators use write them.
func TestParsePrivateKeyPEMFromOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not on PATH")
	}
	dir := t.TempDir()
	openssl := func(t *testing.T, args ...string) []byte {
		t.Helper()
		out := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pem")
		// -out right after the subcommand: genrsa wants the key size last.
		cmd := exec.Command("openssl", append([]string{args[0], "-out", out}, args[1:]...)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		args []string
		alg  string // DefaultAlg with RS256 configured; "" when refused
		err  string
	}{
		{name: "genrsa", args: []string{"genrsa", "2048"}, alg: "RS256"},
		{name: "genpkey rsa", args: []string{"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"}, alg: "RS256"},
		{name: "ecparam P-256", args: []string{"ecparam", "-genkey", "-name", "prime256v1"}, alg: "ES256"},
		{name: "ecparam P-384 noout", args: []string{"ecparam", "-genkey", "-name", "secp384r1", "-noout"}, alg: "ES384"},
		{name: "ecparam P-521", args: []string{"ecparam", "-genkey", "-name", "secp521r1"}, alg: "ES512"},
		{name: "genpkey ed25519", args: []string{"genpkey", "-algorithm", "ed25519"}, alg: "EdDSA"},
		{name: "genpkey ec P-256", args: []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"}, alg: "ES256"},

		{name: "genrsa 1024", args: []string{"genrsa", "1024"}, err: "at least 2048"},
		{name: "ecparam secp256k1", args: []string{"ecparam", "-genkey", "-name", "secp256k1"}, err: "curve"},
		{name: "genpkey x25519", args: []string{"genpkey", "-algorithm", "x25519"}, err: "cannot sign"},
		{name: "genpkey encrypted", args: []string{"genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:secret"}, err: "encrypted"},
		{name: "genrsa encrypted", args: []string{"genrsa", "-aes256", "-passout", "pass:secret", "2048"}, err: "encrypted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, err := rotation.ParsePrivateKeyPEM(openssl(t, tc.args...))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v; want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if alg := rotation.DefaultAlg(key, "RS256"); alg != tc.alg {
				t.Errorf("DefaultAlg = %q, want %q", alg, tc.alg)
			}
		})
	}
	// The traditional (PKCS#1) form: OpenSSL 3 writes it with -traditional; 1.1 by default.
	t.Run("genrsa traditional", func(t *testing.T) {
		out := filepath.Join(dir, "traditional.pem")
		if b, err := exec.Command("openssl", "genrsa", "-traditional", "-out", out, "2048").CombinedOutput(); err != nil {
			t.Skipf("this openssl has no -traditional: %v\n%s", err, b)
		}
		b, _ := os.ReadFile(out)
		if !bytes.Contains(b, []byte("BEGIN RSA PRIVATE KEY")) {
			t.Fatalf("openssl genrsa -traditional wrote %.40q", b)
		}
		if _, err := rotation.ParsePrivateKeyPEM(b); err != nil {
			t.Fatal(err)
		}
	})
	// A public key made from a private one.
	t.Run("pkey pubout", func(t *testing.T) {
		priv := openssl(t, "genpkey", "-algorithm", "ed25519")
		in := filepath.Join(dir, "pubout-in.pem")
		if err := os.WriteFile(in, priv, 0o600); err != nil {
			t.Fatal(err)
		}
		pub := openssl(t, "pkey", "-in", in, "-pubout")
		if _, err := rotation.ParsePrivateKeyPEM(pub); err == nil || !strings.Contains(err.Error(), "not a private key") {
			t.Fatalf("%v; want a refusal of the public key", err)
		}
	})
}

func FuzzParsePrivateKeyPEM(f *testing.F) {
	k := testKeys()
	for _, name := range []string{"p256", "ed25519", "p224"} {
		f.Add(pkcs8(f, k[name]))
	}
	f.Add(sec1(f, k["p384"]))
	f.Add(pkcs1(k["rsa2048"]))
	f.Add(pkcs1(k["rsa1024"]))
	f.Add(publicPEM(f, k["p256"]))
	f.Add(pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x00}, nil))
	f.Add(pemBlock("RSA PRIVATE KEY", []byte{1}, map[string]string{"Proc-Type": "4,ENCRYPTED"}))
	f.Add(append(pemBlock("EC PARAMETERS", []byte{6, 1, 0}, nil), pemBlock("EC PRIVATE KEY", []byte{0x30, 0x00}, nil)...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := rotation.ParsePrivateKeyPEM(data)
		if err != nil {
			if key != nil {
				t.Fatalf("refused (%v) but returned a key", err)
			}
			return
		}
		// Anything accepted signs with the algorithm chosen for it, and has a kid.
		alg := rotation.DefaultAlg(key, "")
		if alg == "" {
			t.Fatalf("accepted %T but DefaultAlg has no algorithm for it", key)
		}
		if err := rotation.CheckKeyAlg(key, alg); err != nil {
			t.Fatalf("accepted %s but it cannot sign its default alg %s: %v", rotation.KeyDescription(key), alg, err)
		}
		if _, err := rotation.Thumbprint(key.Public()); err != nil {
			t.Fatalf("accepted %s without a thumbprint: %v", rotation.KeyDescription(key), err)
		}
	})
}
