"""Spellings that PyTorch tutorials use, working under `import engine as torch`."""
import engine as torch


def test_utils_data_and_accelerator_paths():
    import data
    from engine.utils.data import DataLoader, TensorDataset

    assert torch.utils.data is data and DataLoader is data.DataLoader
    loader = torch.utils.data.DataLoader(TensorDataset(torch.arange(6)), batch_size=4)
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    device = (torch.accelerator.current_accelerator().type
              if torch.accelerator.is_available() else "cpu")
    assert device == ("cuda" if torch.cuda.is_available() else "cpu")
    x = torch.ones(2).to(device)
    assert x.device.type == device


def test_quickstart_accuracy_expression():
    pred = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    y = torch.tensor([1, 0, 0])
    correct = (pred.argmax(1) == y).type(torch.float).sum().item()
    assert correct == 2.0
