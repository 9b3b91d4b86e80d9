package rotation

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// MaxPEMBytes caps a key file given to ParsePrivateKeyPEM: a PEM private key is a few KiB at most.
const MaxPEMBytes = 64 << 10

// maxImportRSABits bounds an imported RSA key: every token is signed with it.
const maxImportRSABits = 8192

// ErrEncryptedPEM: the PEM key is protected with a passphrase; the issuer takes plain keys only
// (it seals them with the key-encryption key itself).
var ErrEncryptedPEM = errors.New("the private key is encrypted with a passphrase; decrypt it first " +
	"(openssl pkey -in KEY.pem -out plain.pem), import plain.pem and delete it")

// ParsePrivateKeyPEM parses one unencrypted private signing key in PEM: PKCS#8 ("PRIVATE KEY"),
// PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", an "EC PARAMETERS" block beside it is
// ignored), as openssl genrsa, openssl ecparam -genkey and openssl genpkey write them. It accepts
// RSA keys of 2048 to 8192 bits, ECDSA keys on P-256, P-384 or P-521, and Ed25519 keys, and
// refuses encrypted keys, public keys, certificates, several private keys in one file and files
// larger than MaxPEMBytes, each with an error that says what to do. Error messages never hold
// key material.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	if len(data) > MaxPEMBytes {
		return nil, fmt.Errorf("the key file is larger than %d KiB; a PEM private key is a few KiB", MaxPEMBytes>>10)
	}
	var (
		key     crypto.Signer
		public  string   // type of a public block seen, for the message when no private key follows
		unknown []string // other block types seen
	)
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, ErrEncryptedPEM
		}
		switch block.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if key != nil {
				return nil, errors.New("the file holds more than one private key; give one key per file")
			}
			k, err := parsePrivateBlock(block)
			if err != nil {
				return nil, err
			}
			key = k
		case "EC PARAMETERS": // openssl ecparam -genkey writes the curve's name first
		case "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE", "TRUSTED CERTIFICATE", "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			if public == "" {
				public = block.Type
			}
		case "OPENSSH PRIVATE KEY":
			return nil, errors.New("an OpenSSH private key is not supported; write it as PKCS#8 PEM (BEGIN PRIVATE KEY) first")
		default:
			if len(unknown) < 3 && len(block.Type) <= 40 && !slices.Contains(unknown, block.Type) {
				unknown = append(unknown, block.Type)
			}
		}
	}
	switch {
	case key != nil:
		if err := checkImportable(key); err != nil {
			return nil, err
		}
		return key, nil
	case public != "":
		return nil, fmt.Errorf("the file holds a %s, not a private key: import needs the private key", public)
	case len(unknown) > 0:
		return nil, fmt.Errorf("the file holds no private key (PEM blocks: %q); expected BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY", unknown)
	}
	return nil, errors.New("the file holds no PEM block; expected a PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)")
}

// parsePrivateBlock decodes a private key block with the parser its type names, falling back to
// the other two formats (files whose label does not match their content exist in the wild).
func parsePrivateBlock(block *pem.Block) (crypto.Signer, error) {
	parsers := map[string]func([]byte) (any, error){
		"PRIVATE KEY":     x509.ParsePKCS8PrivateKey,
		"RSA PRIVATE KEY": func(der []byte) (any, error) { return x509.ParsePKCS1PrivateKey(der) },
		"EC PRIVATE KEY":  func(der []byte) (any, error) { return x509.ParseECPrivateKey(der) },
	}
	formats := map[string]string{"PRIVATE KEY": "PKCS#8", "RSA PRIVATE KEY": "PKCS#1", "EC PRIVATE KEY": "SEC1"}
	parsed, firstErr := parsers[block.Type](block.Bytes)
	for _, other := range []string{"PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"} {
		if firstErr == nil || other == block.Type {
			continue
		}
		if p, err := parsers[other](block.Bytes); err == nil {
			parsed, firstErr = p, nil
		}
	}
	if firstErr != nil {
		return nil, fmt.Errorf("the %s block is not a valid %s private key: %w", block.Type, formats[block.Type], firstErr)
	}
	switch k := parsed.(type) {
	case *ecdh.PrivateKey:
		return nil, fmt.Errorf("an %v key cannot sign (it is for key agreement); use an Ed25519 or ECDSA key", k.Curve())
	case crypto.Signer:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T; use RSA, ECDSA (P-256, P-384, P-521) or Ed25519", parsed)
}

// checkImportable refuses keys the issuer does not sign with.
func checkImportable(key crypto.Signer) error {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		bits := k.N.BitLen()
		if bits < 2048 {
			return fmt.Errorf("the RSA key has %d bits; at least 2048 are required", bits)
		}
		if bits > maxImportRSABits {
			return fmt.Errorf("the RSA key has %d bits; at most %d are accepted (every token is signed with it)", bits, maxImportRSABits)
		}
		return nil
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return nil
		}
		name := "unknown"
		if k.Curve != nil && k.Curve.Params() != nil {
			name = k.Curve.Params().Name
		}
		return fmt.Errorf("the ECDSA key is on curve %s, which JWS does not sign with; use P-256, P-384 or P-521", name)
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return errors.New("the Ed25519 key has the wrong length")
		}
		return nil
	}
	return fmt.Errorf("unsupported private key type %T; use RSA, ECDSA (P-256, P-384, P-521) or Ed25519", key)
}

// DefaultAlg returns the algorithm an imported key signs with when none is given: for RSA the
// configured algorithm when it is an RS or PS one, else RS256; ES256, ES384 or ES512 by the ECDSA
// curve; EdDSA for Ed25519. "" for a key the issuer cannot sign with.
func DefaultAlg(key crypto.Signer, configured string) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if isRSAAlg(configured) {
			return configured
		}
		return "RS256"
	case *ecdsa.PrivateKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256"
		case elliptic.P384():
			return "ES384"
		case elliptic.P521():
			return "ES512"
		}
	case ed25519.PrivateKey:
		return "EdDSA"
	}
	return ""
}

func isRSAAlg(alg string) bool {
	return slices.Contains(Algorithms, alg) && (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS"))
}

// CheckKeyAlg reports whether key can sign with alg, one of Algorithms, in words an operator can
// act on (an imported P-256 key given --alg ES384, say).
func CheckKeyAlg(key crypto.Signer, alg string) error {
	if !slices.Contains(Algorithms, alg) {
		return fmt.Errorf("unsupported algorithm %q; use one of %s", alg, strings.Join(Algorithms, ", "))
	}
	if err := checkImportable(key); err != nil {
		return err
	}
	var fits []string
	for _, a := range Algorithms {
		if checkKeyFitsAlg(key, a) == nil {
			fits = append(fits, a)
		}
	}
	if !slices.Contains(fits, alg) {
		return fmt.Errorf("%s cannot sign %s; it signs %s", KeyDescription(key), alg, strings.Join(fits, ", "))
	}
	return nil
}

// KeyDescription names a key's type and size for messages: "an RSA 2048-bit key", "an ECDSA P-256
// key", "an Ed25519 key".
func KeyDescription(key crypto.Signer) string {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return fmt.Sprintf("an RSA %d-bit key", k.N.BitLen())
	case *ecdsa.PrivateKey:
		if k.Curve != nil && k.Curve.Params() != nil {
			return "an ECDSA " + k.Curve.Params().Name + " key"
		}
		return "an ECDSA key"
	case ed25519.PrivateKey:
		return "an Ed25519 key"
	}
	return fmt.Sprintf("a %T", key)
}
