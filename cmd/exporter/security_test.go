package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lambda-durable-exporter/lambda-durable-exporter/internal/lambdasim"
)

// These tests run the built binary with an exporter-toolkit web config
// (--web.config.file) and check what a scraper, a browser and an attacker on
// the network see: TLS, basic auth, mutual TLS, config errors, secrets in
// logs, pprof, slow clients and the concurrent-scrape limit.

// demoEnv keeps the SDK away from the machine's AWS files and instance
// metadata; --demo brings its own static credentials.
var demoEnv = []string{"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a client
// certificate, all ECDSA P-256, valid for an hour, written as PEM files.
type pki struct {
	caFile, serverCert, serverKey string
	roots                         *x509.CertPool
	client                        tls.Certificate
}

type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func issue(t *testing.T, tmpl *x509.Certificate, parent *issued) *issued {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Minute)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	parentCert, parentKey := tmpl, key
	if parent != nil {
		parentCert, parentKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{cert: cert, key: key, der: der}
}

func newCA(t *testing.T, name string) *issued {
	return issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: name},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
}

func (c *issued) pemCert() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der})
}

func (c *issued) pemKey(t *testing.T) []byte {
	t.Helper()
	b, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
}

func (c *issued) tlsCert(t *testing.T) tls.Certificate {
	t.Helper()
	cert, err := tls.X509KeyPair(c.pemCert(), c.pemKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func clientCert(t *testing.T, ca *issued, name string) *issued {
	return issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca)
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, "lde test CA")
	server := issue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca)
	p := &pki{
		caFile:     filepath.Join(dir, "ca.pem"),
		serverCert: filepath.Join(dir, "server.pem"),
		serverKey:  filepath.Join(dir, "server-key.pem"),
		roots:      x509.NewCertPool(),
		client:     clientCert(t, ca, "scraper").tlsCert(t),
	}
	for path, b := range map[string][]byte{p.caFile: ca.pemCert(), p.serverCert: server.pemCert(), p.serverKey: server.pemKey(t)} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p.roots.AddCert(ca.cert)
	return p
}

// httpsClient trusts the test CA and presents certs, if any.
func (p *pki) httpsClient(certs ...tls.Certificate) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs:      p.roots,
			Certificates: certs,
		}},
	}
}

func writeWebConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "web-config.yml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) tlsConfigYAML() string {
	return "tls_server_config:\n  cert_file: " + p.serverCert + "\n  key_file: " + p.serverKey + "\n"
}

// request sends method url with optional basic auth and returns the status
// and body, or status 0 and the error text.
func request(c *http.Client, method, url string, auth ...string) (int, string) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, err.Error()
	}
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// getErr GETs url with c, for a request that is expected to fail, and
// returns the error; the body of an unexpected response is closed.
func getErr(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err == nil {
		_ = resp.Body.Close()
	}
	return err
}

// startLogged is start, and logs the exporter's output if the test failed.
// Its cleanup is registered before start's, so it runs after the process
// has exited and its output is complete (reading it earlier would race
// with the goroutine copying it).
func startLogged(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	var p *proc
	t.Cleanup(func() {
		if t.Failed() && p != nil {
			t.Logf("exporter %v output:\n%s", args, p.logs)
		}
	})
	p = start(t, env, args...)
	return p
}

// waitListening waits until the exporter accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("exporter did not listen on %s within 30s", addr)
}

// The basic-auth credentials of these tests. scrapeHash is the bcrypt hash
// of scrapePassword ("Pl41n-Text-Scrape-Passw0rd"), cost 4 so that checking
// it is fast, computed once with golang.org/x/crypto/bcrypt
// GenerateFromPassword. It is hard-coded rather than computed here because
// importing x/crypto from a test makes `go mod tidy` promote it from an
// indirect to a direct requirement in go.mod.
const (
	scrapeUser     = "prometheus"
	scrapePassword = "Pl41n-Text-Scrape-Passw0rd"
	scrapeHash     = "$2a$04$hZZ1nFRzYtDlCEeJ4awB3e8biJ18G9qGooCs9GSKhG6doHz553LbO"
)

// basicAuthYAML is a web config allowing scrapeUser with scrapePassword.
const basicAuthYAML = "basic_auth_users:\n  " + scrapeUser + ": '" + scrapeHash + "'\n"

// TestWebTLS: with tls_server_config the exporter serves HTTPS only: a
// client trusting the CA gets metrics, one that does not refuses the server,
// and plain HTTP on the same port gets a 400, not metrics.
func TestWebTLS(t *testing.T) {
	t.Parallel()
	pk := newPKI(t)
	p := startLogged(t, demoEnv, "--demo", "--web.config.file="+writeWebConfig(t, pk.tlsConfigYAML()))
	waitListening(t, p.addr)
	base := "https://" + p.addr

	c := pk.httpsClient()
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("HTTPS client trusting the CA: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "lambda_durable_exporter_build_info") {
		t.Errorf("GET /metrics over TLS = %d, build_info present: %v", resp.StatusCode, strings.Contains(string(body), "lambda_durable_exporter_build_info"))
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("response not over TLS 1.2+: %+v", resp.TLS)
	}
	if code, _ := request(c, "GET", base+"/-/healthy"); code != 200 {
		t.Errorf("GET /-/healthy over TLS = %d, want 200", code)
	}

	// A client that does not trust the CA refuses the server.
	untrusting := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	if err := getErr(untrusting, base+"/metrics"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("client without the CA: err = %v, want a certificate verification error", err)
	}

	// Plain HTTP on the TLS listener gets Go's canned 400, never metrics.
	code, text := request(&http.Client{Timeout: 10 * time.Second}, "GET", "http://"+p.addr+"/metrics")
	if strings.Contains(text, "lambda_durable") {
		t.Errorf("plain HTTP on the TLS port returned metrics: %d %q", code, text)
	}
	if code != http.StatusBadRequest || !strings.Contains(text, "Client sent an HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP on the TLS port = %d %q, want 400 \"Client sent an HTTP request to an HTTPS server\"", code, text)
	}
}

// TestWebBasicAuth: with basic_auth_users every path needs the right user
// and password, /-/healthy, /-/ready and /-/reload included.
func TestWebBasicAuth(t *testing.T) {
	t.Parallel()
	const user, pass = scrapeUser, scrapePassword
	cfg := writeWebConfig(t, basicAuthYAML)
	p := startLogged(t, demoEnv, "--demo", "--web.config.file="+cfg)
	waitListening(t, p.addr)
	c := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + p.addr

	resp, err := c.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "Basic" {
		t.Errorf("GET /metrics without credentials = %d, WWW-Authenticate %q; want 401, Basic", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	for _, tc := range []struct {
		name       string
		auth       []string
		want       int
		wantMetric bool
	}{
		{"wrong password", []string{user, "wrong"}, 401, false},
		{"unknown user", []string{"admin", pass}, 401, false},
		{"empty password", []string{user, ""}, 401, false},
		{"right password", []string{user, pass}, 200, true},
	} {
		code, body := request(c, "GET", base+"/metrics", tc.auth...)
		if got := strings.Contains(body, "lambda_durable_exporter_build_info"); code != tc.want || got != tc.wantMetric {
			t.Errorf("%s: GET /metrics = %d (metrics in body: %v), want %d", tc.name, code, got, tc.want)
		}
	}

	// exporter-toolkit wraps the whole mux: every path, health and
	// readiness included, needs credentials. Kubernetes probes against a
	// protected exporter must send an Authorization header.
	for _, path := range []string{"/", "/-/healthy", "/-/ready", "/debug/pprof/"} {
		if code, _ := request(c, "GET", base+path); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials = %d, want 401", path, code)
		}
	}
	if code, _ := request(c, "POST", base+"/-/reload"); code != http.StatusUnauthorized {
		t.Errorf("POST /-/reload without credentials = %d, want 401", code)
	}
	if code, _ := request(c, "GET", base+"/-/healthy", user, pass); code != 200 {
		t.Errorf("GET /-/healthy with credentials = %d, want 200", code)
	}
	if code, body := request(c, "GET", base+"/", user, pass); code != 200 || !strings.Contains(body, "Metrics") {
		t.Errorf("GET / with credentials = %d", code)
	}
}

// TestWebMutualTLS: with RequireAndVerifyClientCert only clients with a
// certificate from client_ca_file get through the handshake.
func TestWebMutualTLS(t *testing.T) {
	t.Parallel()
	pk := newPKI(t)
	cfg := writeWebConfig(t, pk.tlsConfigYAML()+"  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: "+pk.caFile+"\n")
	p := startLogged(t, demoEnv, "--demo", "--web.config.file="+cfg)
	waitListening(t, p.addr)
	url := "https://" + p.addr + "/metrics"

	// No client certificate: TLS 1.3 reports the server's alert on the
	// first read, so the request fails either way.
	if err := getErr(pk.httpsClient(), url); err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Errorf("without a client certificate: err = %v, want \"certificate required\"", err)
	}
	// A certificate from another CA is refused too. crypto/tls would not
	// offer it (it is not signed by a CA the server asks for), so force it.
	stranger := clientCert(t, newCA(t, "other CA"), "intruder").tlsCert(t)
	forcing := pk.httpsClient()
	forcing.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &stranger, nil
	}
	if err := getErr(forcing, url); err == nil || !strings.Contains(err.Error(), "unknown certificate authority") {
		t.Errorf("client certificate from another CA: err = %v, want \"unknown certificate authority\"", err)
	}
	code, body := request(pk.httpsClient(pk.client), "GET", url)
	if code != 200 || !strings.Contains(body, "lambda_durable_exporter_build_info") {
		t.Errorf("with the client certificate: %d %.200q", code, body)
	}
}

// TestWebConfigInvalid: a broken web config stops the exporter with exit
// code 1 and a message naming the problem. exporter-toolkit reads the file
// only once the HTTP server starts, i.e. after the configuration loaded and
// the pollers started.
func TestWebConfigInvalid(t *testing.T) {
	t.Parallel()
	pk := newPKI(t)
	missing := filepath.Join(t.TempDir(), "no-such-cert.pem")
	for _, tc := range []struct {
		name, config string // config "" means: the web config file does not exist
		want         []string
	}{
		{"unknown key", pk.tlsConfigYAML() + "basic_auth_user:\n  a: b\n", []string{"web config file", "field basic_auth_user not found"}},
		{"missing cert file", "tls_server_config:\n  cert_file: " + missing + "\n  key_file: " + pk.serverKey + "\n", []string{"failed to read cert_file", missing}},
		{"key without cert", "tls_server_config:\n  key_file: " + pk.serverKey + "\n", []string{"missing one of cert or cert_file"}},
		{"bad client_auth_type", pk.tlsConfigYAML() + "  client_auth_type: Sometimes\n", []string{"invalid ClientAuth: Sometimes"}},
		{"client CA without client auth", pk.tlsConfigYAML() + "  client_ca_file: " + pk.caFile + "\n", []string{"client CA's have been configured without a Client Auth Policy"}},
		{"password not bcrypt", "basic_auth_users:\n  prometheus: plaintext\n", []string{"bcrypt"}},
		{"file missing", "", []string{"no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "absent.yml")
			if tc.config != "" {
				path = writeWebConfig(t, tc.config)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "--web.listen-address="+freePort(t), "--demo", "--web.config.file="+path)
			cmd.Env = append(os.Environ(), demoEnv...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || ctx.Err() != nil {
				t.Fatalf("exporter with an invalid web config: err=%v (want exit status 1); output:\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tc.config == "" && !strings.Contains(string(out), path) {
				t.Errorf("output does not name the missing file %s:\n%s", path, out)
			}
			// --config.check validates the web config too.
			good := writeConfig(t, "functions:\n  - name: orders\n")
			out, err = exec.Command(binary, "--config.check", "--config.file="+good, "--web.config.file="+path).CombinedOutput()
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), tc.want[len(tc.want)-1]) {
				t.Errorf("--config.check with an invalid web config: err=%v; output:\n%s", err, out)
			}
		})
	}
}

// TestNoSecretsInOutput runs the exporter against the simulated API with
// real-looking static AWS credentials in the environment, basic auth and
// debug logging, makes requests with right and wrong passwords and a reload,
// then checks that no secret appears in anything it wrote or served.
func TestNoSecretsInOutput(t *testing.T) {
	t.Parallel()
	const (
		user, pass   = scrapeUser, scrapePassword
		hash         = scrapeHash
		wrongPass    = "Wr0ng-Guess-Passw0rd"
		awsSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
		sessionToken = "FwoGZXIvYXdzSESSIONTOKENabcdef0123456789"
	)
	sim := lambdasim.New(lambdasim.Options{})
	sim.AddFunction("orders", []string{"$LATEST", "1"}, nil)
	for i := 0; i < 20; i++ {
		sim.Start("orders", "1", "o-"+string(rune('a'+i)), time.Now().Add(-time.Duration(i)*time.Minute))
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	web := writeWebConfig(t, basicAuthYAML)
	cfg := writeConfig(t, "interval: 1s\nwindow: 1h\nfunctions:\n  - name: orders\n")
	env := []string{"AWS_ACCESS_KEY_ID=AKIAEXAMPLEKEYID0001", "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_SESSION_TOKEN=" + sessionToken,
		"AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_ENDPOINT_URL_LAMBDA=" + srv.URL}

	addr := freePort(t)
	cmd := exec.Command(binary, "--web.listen-address="+addr, "--config.file="+cfg, "--web.config.file="+web, "--log.level=debug")
	cmd.Env = append(os.Environ(), env...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	waitListening(t, addr)

	c := &http.Client{Timeout: 10 * time.Second}
	base := "http://" + addr
	var served strings.Builder
	for _, r := range []struct {
		method, path string
		auth         []string
		want         int
	}{
		{"GET", "/metrics", nil, 401},
		{"GET", "/metrics", []string{user, wrongPass}, 401},
		{"GET", "/metrics", []string{"root", pass}, 401},
		{"GET", "/", []string{user, pass}, 200},
		{"GET", "/-/healthy", []string{user, pass}, 200},
		{"POST", "/-/reload", []string{user, pass}, 200},
	} {
		code, body := request(c, r.method, base+r.path, r.auth...)
		if code != r.want {
			t.Errorf("%s %s = %d, want %d", r.method, r.path, code, r.want)
		}
		served.WriteString(body)
	}
	// Wait for polls to have happened with debug logging on.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "poll done") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	code, body := request(c, "GET", base+"/metrics", user, pass)
	if code != 200 || !strings.Contains(body, "lambda_durable_executions{") || !strings.Contains(body, `function="orders"`) {
		t.Errorf("GET /metrics with credentials = %d, or no series for orders", code)
	}
	served.WriteString(body)

	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
		exited = true
	case <-time.After(15 * time.Second):
		t.Fatalf("exporter did not stop on SIGTERM; output:\n%s", out)
	}
	logs := out.String()
	if !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "poll done") || !strings.Contains(logs, "configuration reloaded") {
		t.Fatalf("expected debug poll logs and a reload in the output (is --log.level=debug honoured?):\n%s", logs)
	}
	for what, secret := range map[string]string{
		"basic auth password": pass, "wrong password tried": wrongPass, "bcrypt hash": hash,
		"AWS secret access key": awsSecret, "AWS session token": sessionToken,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s appears in the exporter's output", what)
		}
		if strings.Contains(served.String(), secret) {
			t.Errorf("the %s appears in a served page (landing, health, reload or metrics)", what)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", logs)
	}
}

// TestPprofOffByDefault: /debug/pprof/ is not served, nor linked from the
// landing page, unless --web.enable-pprof is given.
func TestPprofOffByDefault(t *testing.T) {
	t.Parallel()
	off := startLogged(t, demoEnv, "--demo")
	on := startLogged(t, demoEnv, "--demo", "--web.enable-pprof")
	waitListening(t, off.addr)
	waitListening(t, on.addr)

	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=1"} {
		if code, _ := off.get(t, path); code != http.StatusNotFound {
			t.Errorf("default: GET %s = %d, want 404", path, code)
		}
	}
	// The stylesheet always carries a #pprof rule; the links are what matter.
	if code, body := off.get(t, "/"); code != 200 || strings.Contains(body, "debug/pprof") {
		t.Errorf("default landing page: %d, profiling links present: %v", code, strings.Contains(body, "debug/pprof"))
	}

	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1"} {
		if code, _ := on.get(t, path); code != 200 {
			t.Errorf("--web.enable-pprof: GET %s = %d, want 200", path, code)
		}
	}
	if code, body := on.get(t, "/"); code != 200 || !strings.Contains(body, "debug/pprof/heap") {
		t.Errorf("--web.enable-pprof landing page: %d, profiling links present: %v", code, strings.Contains(body, "debug/pprof/heap"))
	}
}

// TestSlowClientHeaderTimeout: a client that sends part of a request header
// and stalls (slowloris) is disconnected after ReadHeaderTimeout (10s in
// main.go), and meanwhile does not keep others from being served.
func TestSlowClientHeaderTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10s ReadHeaderTimeout")
	}
	t.Parallel()
	p := startLogged(t, demoEnv, "--demo")
	waitListening(t, p.addr)

	conn, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	began := time.Now()
	if _, err := conn.Write([]byte("GET /metrics HTTP/1.1\r\nHost: " + p.addr + "\r\nUser-Agent: slow")); err != nil {
		t.Fatal(err)
	}
	if code, _ := p.get(t, "/-/healthy"); code != 200 {
		t.Errorf("GET /-/healthy while a client stalls = %d, want 200", code)
	}
	// Bounded wait: the server must close the connection well before this.
	_ = conn.SetReadDeadline(began.Add(15 * time.Second))
	got, err := io.ReadAll(conn)
	took := time.Since(began)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection with a stalled header still open after %v", took.Round(time.Millisecond))
	}
	if took < 9*time.Second {
		t.Errorf("connection closed after %v, before the 10s ReadHeaderTimeout (err %v, read %q)", took, err, got)
	}
	if strings.Contains(string(got), "lambda_durable") {
		t.Errorf("a partial request was answered with metrics")
	}
	t.Logf("stalled connection closed after %v (read %q, err %v)", took.Round(time.Millisecond), got, err)
}

// TestMaxRequestsConcurrentScrapes: with --web.max-requests=1 a scrape that
// arrives while another is in flight gets 503 from promhttp; other paths are
// not limited. One scrape is held open deterministically over HTTP/2 (on by
// default with TLS in exporter-toolkit): the client grants a 1-byte stream
// flow-control window and does not read, so the handler blocks writing the
// body while holding its in-flight slot.
func TestMaxRequestsConcurrentScrapes(t *testing.T) {
	t.Parallel()
	pk := newPKI(t)
	p := startLogged(t, demoEnv, "--demo", "--web.max-requests=1", "--web.config.file="+writeWebConfig(t, pk.tlsConfigYAML()))
	waitListening(t, p.addr)
	url := "https://" + p.addr + "/metrics"

	stalling := &http.Client{Transport: &http.Transport{
		TLSClientConfig:    &tls.Config{RootCAs: pk.roots},
		ForceAttemptHTTP2:  true,
		DisableCompression: true, // an identity body is larger than the server's 4KB write buffer
		HTTP2:              &http.HTTP2Config{MaxReceiveBufferPerStream: 1},
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	held, err := stalling.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if held.ProtoMajor != 2 || held.StatusCode != http.StatusOK {
		t.Fatalf("held scrape: %s %d, want HTTP/2 200", held.Proto, held.StatusCode)
	}

	other := pk.httpsClient()
	code, body := request(other, "GET", url)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "Limit of concurrent requests reached (1)") {
		t.Errorf("second scrape while one is in flight = %d %q, want 503 \"Limit of concurrent requests reached (1)\"", code, body)
	}
	if code, _ := request(other, "GET", "https://"+p.addr+"/-/healthy"); code != 200 {
		t.Errorf("GET /-/healthy while a scrape is in flight = %d, want 200", code)
	}

	// Abandoning the held scrape (RST_STREAM) frees the slot.
	_ = held.Body.Close()
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body = request(other, "GET", url)
		if code == 200 && strings.Contains(body, "lambda_durable_exporter_build_info") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scrape after the held one was abandoned = %d %.100q, want 200", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
