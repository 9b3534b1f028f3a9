// The baseline for `make bench`: the Node.js tutorial's chat server design,
// written in our own words. Every chunk a socket reads is relayed, as it came,
// to every other socket as "> ip:port: " + chunk. No line framing, no logging.
// Usage: node benches/node_baseline.js [PORT]   (0 picks a free port)
const net = require('net');

const sockets = new Set();
const server = net.createServer((socket) => {
  const name = `${socket.remoteAddress}:${socket.remotePort}`;
  sockets.add(socket);
  socket.on('data', (chunk) => {
    for (const other of sockets) {
      if (other !== socket) other.write(`> ${name}: ${chunk}`);
    }
  });
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => sockets.delete(socket));
});
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});
