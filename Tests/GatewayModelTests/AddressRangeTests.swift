import GatewayModel
import Testing

@Suite struct AddressRangeTests {
    @Test func addressesAndBlocks() throws {
        let single = try #require(AddressRange("192.0.2.7"))
        #expect(single.contains("192.0.2.7"))
        #expect(!single.contains("192.0.2.8"))
        #expect(single.description == "192.0.2.7")

        let block = try #require(AddressRange("10.1.0.0/17"))
        #expect(block.contains("10.1.127.255"))
        #expect(!block.contains("10.1.128.0"))
        #expect(block.description == "10.1.0.0/17")

        let v6 = try #require(AddressRange("2001:db8::/33"))
        #expect(v6.contains("2001:db8:7fff::1"))
        #expect(!v6.contains("2001:db8:8000::1"))
        #expect(!v6.contains("10.1.0.1"), "an IPv4 address is in no IPv6 block")
        #expect(v6.description == "2001:db8::/33")

        #expect(try #require(AddressRange("0.0.0.0/0")).contains("203.0.113.9"))
    }

    @Test func whatIsNotAnAddressIsRefused() {
        for text in ["", "example.com", "10.0.0.0/33", "10.0.0.0/", "::/129", "1.2.3", "10.0.0.1/x"] {
            #expect(AddressRange(text) == nil, "\(text)")
        }
        #expect(AddressRange.bytes(of: "fake address teehee!") == nil)
    }
}
