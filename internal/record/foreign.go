package record

// Foreign is a record as other readers of the SkyDNS message format type it
// (CoreDNS's msg.Service, ExternalDNS's CoreDNS provider): they read every
// value under the prefix they are given (/skydns/) into it, and ExternalDNS
// gives up on the first value that does not parse. Whatever SkyDNS writes
// under the prefix must therefore decode into it, as a record of nothing
// unless it is a record; the tests of every such value check it here.
type Foreign struct {
	Host        string `json:"host,omitempty"`
	Port        int    `json:"port,omitempty"`
	Priority    int    `json:"priority,omitempty"`
	Weight      int    `json:"weight,omitempty"`
	Text        string `json:"text,omitempty"`
	Mail        bool   `json:"mail,omitempty"`
	TTL         uint32 `json:"ttl,omitempty"`
	TargetStrip int    `json:"targetstrip,omitempty"`
	Group       string `json:"group,omitempty"`
}
